/*
 * The operating system's pressure signal in the memory interface (config os_pressure,
 * src/memory/pressure.c), driven by a scripted platform: the fake platform over the
 * default one, with system_memory, pressure_stall and now_ns replaced by functions that
 * report what the test sets (still counted, and failing on demand, through the fake).
 *
 * Checked: the profiles' defaults; the thresholds on both readings and at their edges;
 * that a level is max(budget level, OS level) for every present type and the whole, and
 * None for a type without a region; that fl_memory_get_pressure never samples; the rate
 * limit (a sample only when the countdown of changes meets an elapsed interval; every
 * check without a clock); that callbacks fire once on an OS-driven rise and not on a fall;
 * the platform gc_hint hook on a rise to High/Critical and from fl_memory_gc_hint; a level
 * raised to Critical by a failing request kept over an OS sample; a refusing platform
 * (FL_ERR_PLATFORM, level kept); an interface without os_pressure never asks; the JSON
 * document's os_pressure section; and the real platform's reading where it is POSIX.
 */
#include "memory_test_util.h"
#include "platform_caps.h"

/* ---- the scripted platform ------------------------------------------------------------------ */

static fake_platform fake;
static uint64_t script_available, script_total, script_clock;
static double script_stall;
static bool script_stall_known;

static bool scripted_system_memory(void *user, uint64_t *available, uint64_t *total)
{
    if (fake_enter((fake_platform *)user, FAKE_SYSTEM_MEMORY)) return false;
    *available = script_available;
    *total = script_total;
    return true;
}

static bool scripted_pressure_stall(void *user, double *pct)
{
    if (fake_enter((fake_platform *)user, FAKE_PRESSURE_STALL)) return false;
    if (!script_stall_known) return false;
    *pct = script_stall;
    return true;
}

static uint64_t scripted_now_ns(void *user)
{
    (void)fake_enter((fake_platform *)user, FAKE_NOW_NS);
    return script_clock;
}

#define GIB ((uint64_t)1 << 30)
#define MS ((uint64_t)1000000)

/* Available = pct_tenths / 1000 of a 1 GiB total. */
static void script_memory(unsigned pct_tenths)
{
    script_total = GIB;
    script_available = GIB / 1000 * pct_tenths;
}

static fl_memory_config scripted_config(void)
{
    fake_platform_init(&fake, fl_platform_default());
    fake.hooks.system_memory = scripted_system_memory;
    fake.hooks.pressure_stall = scripted_pressure_stall;
    fake.hooks.now_ns = scripted_now_ns;
    fake.hooks.gc_hint = fake_gc_hint;
    script_memory(1000);
    script_stall = 0.0;
    script_stall_known = false;
    script_clock = 1000 * MS;
    fl_memory_config c = small_config();
    c.capacity[FL_MEMORY_AUDIO] = 0; /* a type without a region stays None */
    c.platform = &fake.hooks;
    c.os_pressure = true;
    c.os_pressure_interval_ms = 100;
    return c;
}

static fl_pressure_level level(fl_memory *m, fl_memory_type t)
{
    fl_pressure_info info;
    CHECK_OK(fl_memory_get_pressure(m, t, &info));
    return info.level;
}

/* Every present type and the whole read `expected`; Audio and Shared (absent) read None. */
static void check_all_levels(fl_memory *m, fl_pressure_level expected)
{
    for (unsigned t = 0; t <= FL_MEMORY_TYPE_COUNT; t++) {
        /* small_config has no Shared region; Audio was left out here */
        bool absent = t == FL_MEMORY_AUDIO || t == FL_MEMORY_SHARED;
        fl_pressure_level want = absent ? FL_PRESSURE_NONE : expected;
        CHECK_MSG(level(m, (fl_memory_type)t) == want, "type %u reads %s, expected %s", t,
                  fl_pressure_level_str(level(m, (fl_memory_type)t)), fl_pressure_level_str(want));
    }
}

/* Callbacks: rises seen per registered level, whole-interface ones apart. */
typedef struct seen {
    unsigned calls, whole;
    fl_pressure_level last;
} seen;

static void on_rise(fl_pressure_level lvl, const fl_pressure_info *info, void *user)
{
    seen *s = (seen *)user;
    s->calls++;
    if (info->type == FL_MEMORY_ALL_TYPES) s->whole++;
    s->last = lvl;
}

/* n allocate + free pairs of 64 bytes in System: 2n changes of used bytes. */
static void churn(fl_memory *m, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        fl_allocation a;
        CHECK_OK(fl_memory_allocate_typed(m, 64, FL_MEMORY_SYSTEM, 0, 0, &a));
        CHECK_OK(fl_memory_deallocate(m, a.ptr));
    }
}

/* ---- tests ------------------------------------------------------------------------------------ */

static void test_profiles(void)
{
    static const struct {
        fl_platform p;
        bool on;
    } want[] = {{FL_PLATFORM_HOST, true},
                {FL_PLATFORM_DESKTOP, true},
                {FL_PLATFORM_WEB, true},
                {FL_PLATFORM_DREAMCAST, false},
                {FL_PLATFORM_PSP, false}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        fl_memory_config c;
        CHECK_OK(fl_memory_config_default(want[i].p, &c));
        CHECK_MSG(c.os_pressure == want[i].on, "%s: os_pressure %d", fl_platform_str(want[i].p), (int)c.os_pressure);
        CHECK(c.os_pressure_interval_ms == 0); /* the documented default, 250 ms */
    }
}

static void test_thresholds(void)
{
    /* available as a share of total (tenths of a percent) -> OS level */
    static const struct {
        unsigned tenths;
        fl_pressure_level level;
    } table[] = {{1000, FL_PRESSURE_NONE}, {201, FL_PRESSURE_NONE},   {200, FL_PRESSURE_LOW},
                 {101, FL_PRESSURE_LOW},   {100, FL_PRESSURE_MEDIUM}, {51, FL_PRESSURE_MEDIUM},
                 {50, FL_PRESSURE_HIGH},   {21, FL_PRESSURE_HIGH},    {20, FL_PRESSURE_CRITICAL},
                 {0, FL_PRESSURE_CRITICAL}};
    fl_memory_config c = scripted_config();
    fl_memory *m = make_memory(&c);
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        /* exactly at the percentage: 1 GiB / 1000 * tenths is not always exact, so use
         * total * tenths / 1000 computed the same way the library does (floor) */
        script_total = GIB;
        script_available = GIB * table[i].tenths / 1000;
        fl_os_pressure os;
        CHECK_OK(fl_memory_poll_os_pressure(m, &os));
        CHECK(os.memory_known && !os.stall_known && os.total_bytes == GIB);
        CHECK(os.available_bytes == script_available && os.sampled_ns == script_clock);
        CHECK_MSG(os.level == table[i].level, "%u/1000 available: %s, expected %s", table[i].tenths,
                  fl_pressure_level_str(os.level), fl_pressure_level_str(table[i].level));
        check_all_levels(m, table[i].level);
        fl_os_pressure again;
        CHECK_OK(fl_memory_get_os_pressure(m, &again));
        CHECK(again.level == os.level && again.available_bytes == os.available_bytes);
    }
    /* One byte above 20 % is None, at 20 % Low (the edge is inclusive). */
    script_total = 1000;
    script_available = 201;
    CHECK_OK(fl_memory_poll_os_pressure(m, NULL));
    CHECK(level(m, FL_MEMORY_ALL_TYPES) == FL_PRESSURE_NONE);
    script_available = 200;
    CHECK_OK(fl_memory_poll_os_pressure(m, NULL));
    CHECK(level(m, FL_MEMORY_ALL_TYPES) == FL_PRESSURE_LOW);

    /* Pressure stall: the higher of the two readings wins. */
    static const struct {
        double pct;
        fl_pressure_level level;
    } stall[] = {{0.0, FL_PRESSURE_NONE},  {4.99, FL_PRESSURE_NONE},  {5.0, FL_PRESSURE_LOW},
                 {10.0, FL_PRESSURE_MEDIUM}, {19.9, FL_PRESSURE_MEDIUM}, {20.0, FL_PRESSURE_HIGH},
                 {40.0, FL_PRESSURE_CRITICAL}, {100.0, FL_PRESSURE_CRITICAL}};
    script_memory(1000);
    script_stall_known = true;
    for (size_t i = 0; i < sizeof stall / sizeof stall[0]; i++) {
        script_stall = stall[i].pct;
        fl_os_pressure os;
        CHECK_OK(fl_memory_poll_os_pressure(m, &os));
        CHECK(os.stall_known && os.stall_pct == stall[i].pct);
        CHECK_MSG(os.level == stall[i].level, "stall %.2f %%: %s", stall[i].pct, fl_pressure_level_str(os.level));
    }
    script_stall = 12.0;         /* Medium */
    script_memory(40);           /* 4 %: High */
    fl_os_pressure os;
    CHECK_OK(fl_memory_poll_os_pressure(m, &os));
    CHECK(os.level == FL_PRESSURE_HIGH);
    script_memory(150);          /* 15 %: Low; the stall's Medium wins */
    CHECK_OK(fl_memory_poll_os_pressure(m, &os));
    CHECK(os.level == FL_PRESSURE_MEDIUM);
    /* Only the stall known (system_memory refused once): its level alone. */
    fake_fail_nth(&fake, FAKE_SYSTEM_MEMORY, 1);
    CHECK_OK(fl_memory_poll_os_pressure(m, &os));
    CHECK(!os.memory_known && os.stall_known && os.level == FL_PRESSURE_MEDIUM);
    fl_memory_destroy(m);
    CHECK(fake_live_clean(&fake));
}

static void test_effective_is_max(void)
{
    fl_memory_config c = scripted_config();
    fl_memory *m = make_memory(&c);
    /* The budget level of System to High: its ordinary capacity is 1 MiB - 64 KiB reserve. */
    fl_pressure_info info;
    CHECK_OK(fl_memory_get_pressure(m, FL_MEMORY_SYSTEM, &info));
    size_t want_used = info.total_bytes - info.total_bytes / 100 * 9; /* 9 % left: High */
    fl_allocation big;
    CHECK_OK(fl_memory_allocate_typed(m, want_used - 4 * KIB, FL_MEMORY_SYSTEM, 0, 0, &big));
    CHECK(level(m, FL_MEMORY_SYSTEM) == FL_PRESSURE_HIGH);
    CHECK(level(m, FL_MEMORY_POOL) == FL_PRESSURE_NONE);
    /* OS Low: System keeps its High, the others read Low. */
    script_memory(150);
    CHECK_OK(fl_memory_poll_os_pressure(m, NULL));
    CHECK(level(m, FL_MEMORY_SYSTEM) == FL_PRESSURE_HIGH);
    CHECK(level(m, FL_MEMORY_POOL) == FL_PRESSURE_LOW && level(m, FL_MEMORY_VIDEO) == FL_PRESSURE_LOW);
    CHECK(level(m, FL_MEMORY_AUDIO) == FL_PRESSURE_NONE);
    /* OS Critical: everything present is Critical. */
    script_memory(10);
    CHECK_OK(fl_memory_poll_os_pressure(m, NULL));
    check_all_levels(m, FL_PRESSURE_CRITICAL);
    /* Freeing the System block: its budget part falls to None, the OS keeps it Critical. */
    CHECK_OK(fl_memory_deallocate(m, big.ptr));
    CHECK(level(m, FL_MEMORY_SYSTEM) == FL_PRESSURE_CRITICAL);
    /* The OS recovers: every level is its budget's again. */
    script_memory(1000);
    CHECK_OK(fl_memory_poll_os_pressure(m, NULL));
    check_all_levels(m, FL_PRESSURE_NONE);
    /* info still reports the budget's bytes. */
    CHECK_OK(fl_memory_get_pressure(m, FL_MEMORY_SYSTEM, &info));
    CHECK(info.available_bytes == info.total_bytes);
    fl_memory_destroy(m);
}

static void test_rate_limit(void)
{
    fl_memory_config c = scripted_config();
    fl_memory *m = make_memory(&c);
    CHECK(fake_calls(&fake, FAKE_SYSTEM_MEMORY) == 0); /* create asks nothing */
    /* The first change of used bytes samples at once. */
    churn(m, 1);
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_SYSTEM_MEMORY), 1);
    /* get_pressure only reads: the OS changing is not seen without a sample. */
    script_memory(10);
    for (int i = 0; i < 100; i++) CHECK(level(m, FL_MEMORY_ALL_TYPES) == FL_PRESSURE_NONE);
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_SYSTEM_MEMORY), 1);
    /* 64 changes later the clock is read, but 100 ms have not passed: no sample. */
    size_t clock_reads = fake_calls(&fake, FAKE_NOW_NS);
    churn(m, 32);
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_NOW_NS), clock_reads + 1);
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_SYSTEM_MEMORY), 1);
    CHECK(level(m, FL_MEMORY_ALL_TYPES) == FL_PRESSURE_NONE);
    /* 99 ms later: still none; at 100 ms the next check samples. */
    script_clock += 99 * MS;
    churn(m, 32);
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_SYSTEM_MEMORY), 1);
    script_clock += 1 * MS;
    churn(m, 31);
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_SYSTEM_MEMORY), 1); /* the countdown is not over yet */
    churn(m, 1);
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_SYSTEM_MEMORY), 2);
    check_all_levels(m, FL_PRESSURE_CRITICAL);
    /* An explicit poll samples whatever the interval. */
    CHECK_OK(fl_memory_poll_os_pressure(m, NULL));
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_SYSTEM_MEMORY), 3);
    fl_memory_destroy(m);

    /* A platform without a clock samples at every check (every 64 changes). */
    c = scripted_config();
    fake.hooks.now_ns = NULL;
    m = make_memory(&c);
    churn(m, 1);
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_SYSTEM_MEMORY), 1);
    churn(m, 32);
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_SYSTEM_MEMORY), 2);
    churn(m, 64);
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_SYSTEM_MEMORY), 4);
    fl_memory_destroy(m);
}

static void test_callbacks_and_gc_hint(void)
{
    fl_memory_config c = scripted_config();
    fl_memory *m = make_memory(&c);
    seen low = {0, 0, FL_PRESSURE_NONE}, high = {0, 0, FL_PRESSURE_NONE}, critical = {0, 0, FL_PRESSURE_NONE};
    uint32_t id_low, id_high, id_critical;
    CHECK_OK(fl_memory_register_pressure_callback(m, FL_PRESSURE_LOW, on_rise, &low, &id_low));
    CHECK_OK(fl_memory_register_pressure_callback(m, FL_PRESSURE_HIGH, on_rise, &high, &id_high));
    CHECK_OK(fl_memory_register_pressure_callback(m, FL_PRESSURE_CRITICAL, on_rise, &critical, &id_critical));
    /* Present levels: System, Video, Network, Temporary, Stack, Pool and the whole. */
    const unsigned present = 7;

    /* OS to Medium by an automatic sample: the Low callbacks run once per level. */
    script_memory(80);
    churn(m, 1);
    CHECK(level(m, FL_MEMORY_ALL_TYPES) == FL_PRESSURE_MEDIUM);
    CHECK_EQ_SIZE(low.calls, present);
    CHECK_EQ_SIZE(low.whole, 1);
    CHECK(low.last == FL_PRESSURE_MEDIUM && high.calls == 0 && critical.calls == 0);
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_GC_HINT), 0); /* below High: the host is not told */
    /* Same level again: nothing. */
    CHECK_OK(fl_memory_poll_os_pressure(m, NULL));
    CHECK_EQ_SIZE(low.calls, present);
    /* To Critical: High and Critical callbacks, the host told once, with Critical. */
    script_memory(10);
    CHECK_OK(fl_memory_poll_os_pressure(m, NULL));
    CHECK_EQ_SIZE(low.calls, present); /* Low was already passed */
    CHECK_EQ_SIZE(high.calls, present);
    CHECK_EQ_SIZE(critical.calls, present);
    CHECK_EQ_SIZE(critical.whole, 1);
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_GC_HINT), 1);
    CHECK(atomic_load(&fake.last_gc_hint) == (int)FL_PRESSURE_CRITICAL);
    /* A fall runs nothing; a rise after it runs the callbacks again. */
    script_memory(1000);
    CHECK_OK(fl_memory_poll_os_pressure(m, NULL));
    CHECK_EQ_SIZE(low.calls, present);
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_GC_HINT), 1);
    script_memory(40); /* High */
    CHECK_OK(fl_memory_poll_os_pressure(m, NULL));
    CHECK_EQ_SIZE(low.calls, 2 * present);
    CHECK_EQ_SIZE(high.calls, 2 * present);
    CHECK_EQ_SIZE(critical.calls, present);
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_GC_HINT), 2);
    CHECK(atomic_load(&fake.last_gc_hint) == (int)FL_PRESSURE_HIGH);

    /* fl_memory_gc_hint samples and tells the host the interface's level. */
    size_t samples = fake_calls(&fake, FAKE_SYSTEM_MEMORY);
    script_memory(1000);
    CHECK_OK(fl_memory_gc_hint(m));
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_SYSTEM_MEMORY), samples + 1);
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_GC_HINT), 3);
    CHECK(atomic_load(&fake.last_gc_hint) == (int)FL_PRESSURE_NONE);

    CHECK_OK(fl_memory_unregister_pressure_callback(m, id_low));
    CHECK_OK(fl_memory_unregister_pressure_callback(m, id_high));
    CHECK_OK(fl_memory_unregister_pressure_callback(m, id_critical));
    /* Without callbacks the host still hears of a rise to High. */
    script_memory(30);
    CHECK_OK(fl_memory_poll_os_pressure(m, NULL));
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_GC_HINT), 4);
    fl_memory_destroy(m);
}

static void test_raised_level_kept(void)
{
    fl_memory_config c = scripted_config();
    fl_memory *m = make_memory(&c);
    seen s = {0, 0, FL_PRESSURE_NONE};
    uint32_t id;
    CHECK_OK(fl_memory_register_pressure_callback(m, FL_PRESSURE_CRITICAL, on_rise, &s, &id));
    /* A Network request larger than the region: raised to Critical, then fails. */
    fl_allocation a;
    fl_alloc_request req;
    memset(&req, 0, sizeof req);
    req.size = 128 * KIB;
    req.preferred_type = FL_MEMORY_NETWORK;
    req.preferred_allocator = FL_ALLOCATOR_AUTO;
    CHECK_STATUS(fl_memory_allocate_request(m, &req, &a), FL_ERR_OUT_OF_MEMORY);
    CHECK(level(m, FL_MEMORY_NETWORK) == FL_PRESSURE_CRITICAL);
    CHECK(s.calls >= 1);
    /* An OS sample (Low) leaves the raised level alone; the others follow the OS. */
    script_memory(150);
    CHECK_OK(fl_memory_poll_os_pressure(m, NULL));
    CHECK(level(m, FL_MEMORY_NETWORK) == FL_PRESSURE_CRITICAL);
    CHECK(level(m, FL_MEMORY_POOL) == FL_PRESSURE_LOW);
    /* The next change of Network's used bytes recomputes it: max(None, Low). */
    CHECK_OK(fl_memory_allocate_typed(m, 64, FL_MEMORY_NETWORK, 0, 0, &a));
    CHECK(level(m, FL_MEMORY_NETWORK) == FL_PRESSURE_LOW);
    CHECK_OK(fl_memory_deallocate(m, a.ptr));
    fl_memory_destroy(m);
}

static void test_refusals(void)
{
    fl_memory_config c = scripted_config();
    fl_memory *m = make_memory(&c);
    script_memory(150);
    CHECK_OK(fl_memory_poll_os_pressure(m, NULL));
    CHECK(level(m, FL_MEMORY_ALL_TYPES) == FL_PRESSURE_LOW);
    /* Both readings refused: FL_ERR_PLATFORM, the OS level stays Low. */
    script_memory(10);
    fake_fail_nth(&fake, FAKE_SYSTEM_MEMORY, 1);
    CHECK_STATUS(fl_memory_poll_os_pressure(m, NULL), FL_ERR_PLATFORM);
    CHECK(strstr(fl_last_error()->message, "system_memory refused") != NULL);
    CHECK(level(m, FL_MEMORY_ALL_TYPES) == FL_PRESSURE_LOW);
    /* An automatic check that gets nothing leaves it too, and waits a whole interval. */
    fake_fail_from(&fake, FAKE_SYSTEM_MEMORY, 1);
    script_clock += 1000 * MS;
    churn(m, 32);
    CHECK(level(m, FL_MEMORY_ALL_TYPES) == FL_PRESSURE_LOW);
    fake_fail_nth(&fake, FAKE_SYSTEM_MEMORY, 0);
    size_t samples = fake_calls(&fake, FAKE_SYSTEM_MEMORY);
    churn(m, 32);
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_SYSTEM_MEMORY), samples); /* interval not over */
    CHECK_STATUS(fl_memory_poll_os_pressure(NULL, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_get_os_pressure(m, NULL), FL_ERR_INVALID_PARAMETERS);
    fl_memory_destroy(m);

    /* A platform with neither hook: the poll names them absent. */
    c = scripted_config();
    fake.hooks.system_memory = NULL;
    fake.hooks.pressure_stall = NULL;
    m = make_memory(&c);
    CHECK_STATUS(fl_memory_poll_os_pressure(m, NULL), FL_ERR_PLATFORM);
    CHECK(strstr(fl_last_error()->message, "system_memory absent") != NULL);
    churn(m, 100);
    check_all_levels(m, FL_PRESSURE_NONE);
    fl_memory_destroy(m);

    /* Without os_pressure: never asked, and the calls say so. */
    c = scripted_config();
    c.os_pressure = false;
    m = make_memory(&c);
    script_memory(0);
    churn(m, 300);
    CHECK(fl_memory_gc_hint(m) == FL_OK);
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_SYSTEM_MEMORY), 0);
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_PRESSURE_STALL), 0);
    check_all_levels(m, FL_PRESSURE_NONE);
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_GC_HINT), 1); /* gc_hint still tells the host */
    fl_os_pressure os;
    CHECK_STATUS(fl_memory_poll_os_pressure(m, &os), FL_ERR_NOT_SUPPORTED);
    CHECK_STATUS(fl_memory_get_os_pressure(m, &os), FL_ERR_NOT_SUPPORTED);
    fl_memory_destroy(m);
}

/* The JSON document carries the last sample, and dumping it takes none. */
static char json_text[64 * 1024];
static size_t json_length;

static void json_sink(const char *text, size_t length, void *user)
{
    (void)user;
    if (json_length + length >= sizeof json_text) return;
    memcpy(json_text + json_length, text, length);
    json_length += length;
    json_text[json_length] = '\0';
}

static void test_json(void)
{
    fl_memory_config c = scripted_config();
    fl_memory *m = make_memory(&c);
    json_length = 0;
    CHECK_OK(fl_memory_dump_json(m, json_sink, NULL));
    CHECK(strstr(json_text, "\"os_pressure\": {\"level\": \"None\", \"memory_known\": false") != NULL);
    CHECK(strstr(json_text, "\"sampled_ns\": 0}") != NULL);
    script_total = 1000000;
    script_available = 42000; /* 4.2 %: High */
    script_stall_known = true;
    script_stall = 1.5;
    CHECK_OK(fl_memory_poll_os_pressure(m, NULL));
    size_t samples = fake_calls(&fake, FAKE_SYSTEM_MEMORY);
    json_length = 0;
    CHECK_OK(fl_memory_dump_json(m, json_sink, NULL));
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_SYSTEM_MEMORY), samples);
    CHECK(strstr(json_text, "\"os_pressure\": {\"level\": \"High\", \"memory_known\": true, \"stall_known\": true, "
                            "\"os_available_bytes\": 42000, \"os_total_bytes\": 1000000, \"stall_pct\": 1.500000") != NULL);
    fl_memory_destroy(m);
}

/* The real platform: a HOST interface reads the machine (or its cgroup). */
static void test_real_platform(void)
{
    SKIP_UNLESS(CAPS_POSIX_TABLE, "the Web's reading is checked by test_platform_emscripten_web");
    fl_memory_config c = small_config();
    c.os_pressure = true;
    c.platform = NULL;
    fl_memory *m = make_memory(&c);
    fl_os_pressure os;
    CHECK_OK(fl_memory_poll_os_pressure(m, &os));
    CHECK(os.memory_known && os.total_bytes > 0 && os.available_bytes <= os.total_bytes);
    CHECK(os.sampled_ns > 0 && os.stall_pct >= 0.0 && os.stall_pct <= 100.0);
    CHECK(level(m, FL_MEMORY_ALL_TYPES) >= os.level);
    printf("OS: %llu of %llu bytes available, stall %s %.2f %%, level %s\n", (unsigned long long)os.available_bytes,
           (unsigned long long)os.total_bytes, os.stall_known ? "known" : "unknown", os.stall_pct,
           fl_pressure_level_str(os.level));
    fl_memory_destroy(m);
}

int main(void)
{
    RUN(test_profiles);
    RUN(test_thresholds);
    RUN(test_effective_is_max);
    RUN(test_rate_limit);
    RUN(test_callbacks_and_gc_hint);
    RUN(test_raised_level_kept);
    RUN(test_refusals);
    RUN(test_json);
    RUN(test_real_platform);
    return harness_finish();
}
