/*
 * The POSIX platform table (include/flight/memory.h, "Platform hooks"), tuned for Linux
 * and usable on other POSIX systems:
 * - pages: anonymous private mmap/munmap; release_pages drops the physical pages with
 *   madvise(MADV_DONTNEED) on Linux, where later reads of a private anonymous mapping see
 *   zeroes, and elsewhere (where MADV_DONTNEED may keep the contents) maps fresh zero
 *   pages over the range with MAP_FIXED;
 * - heap: posix_memalign/free;
 * - locks and condition variables: pthread mutexes, and condition variables whose timed
 *   waits run on CLOCK_MONOTONIC so that setting the wall clock does not stretch them;
 * - shared memory: an anonymous memfd (Linux), else a POSIX shm object with a unique name,
 *   mode 0600, unlinked at once; sized with ftruncate, mapped MAP_SHARED, and the
 *   descriptor closed once mapped (the mapping keeps the object alive, a fork shares it);
 * - system memory: the tightest cgroup memory limit above this process (v2 memory.max /
 *   memory.current, or v1 memory.limit_in_bytes / memory.usage_in_bytes) when it is below
 *   the machine's RAM, else /proc/meminfo MemAvailable and MemTotal; pressure stall from
 *   /proc/pressure/memory;
 * - physical memory and page size from sysconf, time from clock_gettime(CLOCK_MONOTONIC).
 *
 * The /proc and /sys readers run rarely (a pressure poll), so they favour simplicity, but
 * they still never allocate: open/read/close into stack buffers and hand-written parsing
 * (strtod would depend on the locale's decimal point).
 */
#define _GNU_SOURCE 1
#include "platform.h"
#include "pthread_sync.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- pages ------------------------------------------------------------------------------ */

static size_t posix_page_size(void *user)
{
    (void)user;
    long page = sysconf(_SC_PAGESIZE);
    return page > 0 ? (size_t)page : FL_ALIGN_PAGE;
}

static void *posix_map_pages(void *user, size_t size)
{
    (void)user;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void posix_unmap_pages(void *user, void *pages, size_t size)
{
    (void)user;
    munmap(pages, size);
}

static void posix_release_pages(void *user, void *pages, size_t size)
{
    (void)user;
#if defined(__linux__)
    madvise(pages, size, MADV_DONTNEED);
#else
    /* Replacing the range drops its pages and guarantees zeroes on every system. */
    mmap(pages, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
#endif
}

/* ---- heap ------------------------------------------------------------------------------- */

static void *posix_heap_alloc(void *user, size_t size, size_t alignment)
{
    (void)user;
    void *p = NULL;
    return posix_memalign(&p, alignment, size) == 0 ? p : NULL;
}

static void posix_heap_free(void *user, void *block)
{
    (void)user;
    free(block);
}

/* ---- locks and condition variables: pthread_sync.h --------------------------------------- */

/* ---- time ------------------------------------------------------------------------------- */

static uint64_t posix_now_ns(void *user)
{
    (void)user;
    struct timespec t;
    if (clock_gettime(CLOCK_MONOTONIC, &t) != 0) return 0;
    return (uint64_t)t.tv_sec * UINT64_C(1000000000) + (uint64_t)t.tv_nsec;
}

/* ---- shared memory ---------------------------------------------------------------------- */

/* Appends v in hexadecimal at *at (the buffer has room: callers size it). */
static char *append_hex(char *at, uint64_t v)
{
    char digits[16];
    int n = 0;
    do {
        digits[n++] = "0123456789abcdef"[v & 15u];
        v >>= 4;
    } while (v != 0);
    while (n > 0) *at++ = digits[--n];
    return at;
}

/* A descriptor of a new, empty shared-memory object nobody else can open, or -1. */
static int open_shared_object(void)
{
#if defined(__linux__) && defined(MFD_CLOEXEC)
    int memfd = memfd_create("flight-memory", MFD_CLOEXEC);
    if (memfd >= 0) return memfd;
    /* ENOSYS (an old kernel) or a sandbox refusing it: try POSIX shm below. */
#endif
    /* A name unique to this process and call; EEXIST (a stale object) tries the next. */
    static atomic_uint serial;
    for (int attempt = 0; attempt < 16; attempt++) {
        char name[64];
        char *at = name;
        memcpy(at, "/flight-memory-", 15);
        at = append_hex(at + 15, (uint64_t)getpid());
        *at++ = '-';
        at = append_hex(at, atomic_fetch_add(&serial, 1u));
        *at++ = '-';
        at = append_hex(at, posix_now_ns(NULL));
        *at = '\0';
        int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
        if (fd >= 0) {
            shm_unlink(name); /* nameless from now on: gone when the last mapping goes */
            return fd;
        }
        if (errno != EEXIST) return -1;
    }
    return -1;
}

static void *posix_shared_map(void *user, size_t size)
{
    (void)user;
    /* off_t may be 32 bits (32-bit builds without large-file support): no wrap-around. */
    uint64_t largest_offset = (UINT64_C(1) << (sizeof(off_t) * 8u - 1u)) - 1u;
    if (size == 0 || (uint64_t)size > largest_offset) return NULL;
    int fd = open_shared_object();
    if (fd < 0) return NULL;
    void *p = MAP_FAILED;
    if (ftruncate(fd, (off_t)size) == 0) p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    return p == MAP_FAILED ? NULL : p;
}

static void posix_shared_unmap(void *user, void *memory, size_t size)
{
    (void)user;
    munmap(memory, size);
}

/* ---- small files and numbers ------------------------------------------------------------ */

/* Reads up to capacity - 1 bytes of the file into buffer and ends them with '\0'. The
 * byte count, or -1 when the file cannot be opened or read. */
static long read_small_file(const char *path, char *buffer, size_t capacity)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t have = 0;
    while (have + 1 < capacity) {
        ssize_t got = read(fd, buffer + have, capacity - 1 - have);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            close(fd);
            return -1;
        }
        if (got == 0) break;
        have += (size_t)got;
    }
    close(fd);
    buffer[have] = '\0';
    return (long)have;
}

/* Parses the decimal digits at *s into *out, moving *s past them; false when there are
 * none or the value overflows 64 bits. */
static bool parse_u64(const char **s, uint64_t *out)
{
    const char *p = *s;
    uint64_t v = 0;
    if (*p < '0' || *p > '9') return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned digit = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - digit) / 10u) return false;
        v = v * 10u + digit;
    }
    *s = p;
    *out = v;
    return true;
}

/* The value after `key` at the start of a line of text ("MemTotal:" -> 123), spaces
 * skipped; false when absent. */
static bool find_number_after(const char *text, const char *key, uint64_t *out)
{
    size_t key_length = strlen(key);
    for (const char *line = text; *line != '\0';) {
        if (strncmp(line, key, key_length) == 0) {
            const char *p = line + key_length;
            while (*p == ' ' || *p == '\t') p++;
            return parse_u64(&p, out);
        }
        const char *next = strchr(line, '\n');
        if (next == NULL) break;
        line = next + 1;
    }
    return false;
}

/* ---- system memory ---------------------------------------------------------------------- */

/* /proc/meminfo: MemTotal and MemAvailable (MemFree before Linux 3.14), in bytes. */
static bool read_meminfo(uint64_t *available, uint64_t *total)
{
    char text[4096]; /* the fields we need are the first lines */
    uint64_t total_kb = 0, available_kb = 0;
    if (read_small_file("/proc/meminfo", text, sizeof text) < 0) return false;
    if (!find_number_after(text, "MemTotal:", &total_kb) || total_kb == 0) return false;
    if (!find_number_after(text, "MemAvailable:", &available_kb) &&
        !find_number_after(text, "MemFree:", &available_kb))
        return false;
    *total = total_kb * 1024u;
    *available = available_kb * 1024u;
    return true;
}

/* A cgroup hierarchy to look for a memory limit in. */
typedef struct cgroup_files {
    const char *mount;   /* where the hierarchy is mounted */
    const char *limit;   /* file with the limit in bytes ("max": none) */
    const char *usage;   /* file with the bytes charged now */
} cgroup_files;

static const cgroup_files cgroup_v2 = {"/sys/fs/cgroup", "memory.max", "memory.current"};
static const cgroup_files cgroup_v1 = {"/sys/fs/cgroup/memory", "memory.limit_in_bytes", "memory.usage_in_bytes"};

/* Reads one number file of the cgroup directory `dir` (dir_length bytes of a PATH_MAX
 * buffer with room); false for "max", a missing file or junk. */
static bool read_cgroup_number(char *dir, size_t dir_length, size_t capacity, const char *file, uint64_t *out)
{
    size_t file_length = strlen(file);
    if (dir_length + 1 + file_length + 1 > capacity) return false;
    dir[dir_length] = '/';
    memcpy(dir + dir_length + 1, file, file_length + 1);
    char text[64];
    long n = read_small_file(dir, text, sizeof text);
    dir[dir_length] = '\0';
    const char *p = text;
    return n > 0 && parse_u64(&p, out);
}

/*
 * The tightest limit on the cgroup `path` (from /proc/self/cgroup) and its ancestors,
 * with the usage charged at that level. Walking up also finds the limit when the path is
 * the host's view and the container sees its own cgroup as the mount's root.
 */
static bool cgroup_limit(const cgroup_files *files, const char *path, size_t path_length, uint64_t *limit,
                         uint64_t *usage)
{
    char dir[4096];
    size_t mount_length = strlen(files->mount);
    if (mount_length + path_length + 64 > sizeof dir) return false;
    memcpy(dir, files->mount, mount_length);
    memcpy(dir + mount_length, path, path_length);
    size_t length = mount_length + path_length;
    while (length > mount_length && dir[length - 1] == '/') length--; /* "/": the root itself */
    dir[length] = '\0';

    bool found = false;
    for (;;) {
        uint64_t level_limit = 0, level_usage = 0;
        if (read_cgroup_number(dir, length, sizeof dir, files->limit, &level_limit) &&
            (!found || level_limit < *limit) &&
            read_cgroup_number(dir, length, sizeof dir, files->usage, &level_usage)) {
            *limit = level_limit;
            *usage = level_usage;
            found = true;
        }
        if (length == mount_length) break;
        while (length > mount_length && dir[length - 1] != '/') length--;
        while (length > mount_length && dir[length - 1] == '/') length--;
        dir[length] = '\0';
    }
    return found;
}

/*
 * The memory limit of this process's cgroup: the v2 line of /proc/self/cgroup ("0::/p")
 * or the v1 line naming the memory controller ("4:memory:/p"). False when there is none
 * (v1 "no limit" is a huge number; the caller compares it with the RAM).
 */
static bool read_cgroup_memory(uint64_t *limit, uint64_t *usage)
{
    char text[4096];
    if (read_small_file("/proc/self/cgroup", text, sizeof text) <= 0) return false;
    for (const char *line = text; *line != '\0';) {
        const char *end = strchr(line, '\n');
        if (end == NULL) end = line + strlen(line);
        const char *first = memchr(line, ':', (size_t)(end - line));
        const char *second = first ? memchr(first + 1, ':', (size_t)(end - first - 1)) : NULL;
        if (second != NULL && second[1] == '/') {
            const char *path = second + 1;
            size_t path_length = (size_t)(end - path);
            if (first == line + 1 && line[0] == '0' && second == first + 1) {
                if (cgroup_limit(&cgroup_v2, path, path_length, limit, usage)) return true;
            } else {
                /* v1: is "memory" one of the comma-separated controllers? */
                for (const char *c = first + 1; c < second;) {
                    const char *comma = memchr(c, ',', (size_t)(second - c));
                    const char *stop = comma ? comma : second;
                    if (stop - c == 6 && memcmp(c, "memory", 6) == 0)
                        return cgroup_limit(&cgroup_v1, path, path_length, limit, usage);
                    c = stop + 1;
                }
            }
        }
        if (*end == '\0') break;
        line = end + 1;
    }
    return false;
}

static bool posix_system_memory(void *user, uint64_t *available, uint64_t *total)
{
    (void)user;
    uint64_t machine_available = 0, machine_total = 0, limit = 0, usage = 0;
    bool machine = read_meminfo(&machine_available, &machine_total);
    bool limited = read_cgroup_memory(&limit, &usage) && limit > 0 && (!machine || limit < machine_total);
    if (limited) {
        uint64_t left = limit > usage ? limit - usage : 0;
        /* The machine may run short before the container does. */
        *available = machine && machine_available < left ? machine_available : left;
        *total = limit;
        return true;
    }
    if (!machine) return false;
    *available = machine_available <= machine_total ? machine_available : machine_total;
    *total = machine_total;
    return true;
}

/* /proc/pressure/memory, first line: "some avg10=1.23 avg60=... total=...". */
static bool posix_pressure_stall(void *user, double *some_avg10_pct)
{
    (void)user;
    char text[256];
    if (read_small_file("/proc/pressure/memory", text, sizeof text) <= 0) return false;
    const char *p = strstr(text, "some avg10=");
    if (p == NULL) return false;
    p += 11;
    uint64_t whole = 0, fraction = 0;
    double scale = 1.0;
    if (!parse_u64(&p, &whole)) return false;
    if (*p == '.') {
        const char *digits = ++p;
        if (!parse_u64(&p, &fraction)) return false;
        for (; digits < p; digits++) scale *= 10.0;
    }
    double pct = (double)whole + (double)fraction / scale;
    *some_avg10_pct = pct > 100.0 ? 100.0 : pct;
    return true;
}

static uint64_t posix_physical_memory(void *user)
{
    (void)user;
#if defined(_SC_PHYS_PAGES)
    long pages = sysconf(_SC_PHYS_PAGES);
    long page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0) return (uint64_t)pages * (uint64_t)page;
#endif
    return 0;
}

/* ---- the table -------------------------------------------------------------------------- */

static const fl_platform_hooks posix_hooks = {
    .user = NULL,
    .page_size = posix_page_size,
    .map_pages = posix_map_pages,
    .unmap_pages = posix_unmap_pages,
    .release_pages = posix_release_pages,
    .heap_alloc = posix_heap_alloc,
    .heap_free = posix_heap_free,
    .lock_init = fli_pthread_lock_init,
    .lock_acquire = fli_pthread_lock_acquire,
    .lock_release = fli_pthread_lock_release,
    .lock_destroy = fli_pthread_lock_destroy,
    .cond_init = fli_pthread_cond_init,
    .cond_wait = fli_pthread_cond_wait,
    .cond_broadcast = fli_pthread_cond_broadcast,
    .cond_destroy = fli_pthread_cond_destroy,
    .shared_map = posix_shared_map,
    .shared_unmap = posix_shared_unmap,
    .system_memory = posix_system_memory,
    .physical_memory = posix_physical_memory,
    .now_ns = posix_now_ns,
    .pressure_stall = posix_pressure_stall,
};

const fl_platform_hooks *fl_platform_default(void) { return &posix_hooks; }
