/*
 * SH-4 side of fs.h for a program linked with -nostdlib: the entry point and two Linux
 * system calls made with `trapa #0x13` (number in r3, arguments in r4..r6, result in r0),
 * which is what qemu-sh4 emulates. No C library is involved at all.
 */
#include "fs.h"

static long sh4_syscall3(long number, long a, long b, long c)
{
    register long r3 __asm__("r3") = number;
    register long r4 __asm__("r4") = a;
    register long r5 __asm__("r5") = b;
    register long r6 __asm__("r6") = c;
    register long r0 __asm__("r0");
    __asm__ volatile("trapa #0x13" : "=r"(r0) : "r"(r3), "r"(r4), "r"(r5), "r"(r6) : "memory", "t");
    return r0;
}

enum { SH4_SYS_EXIT = 1, SH4_SYS_WRITE = 4 };

void fs_write(const char *text, size_t length)
{
    sh4_syscall3(SH4_SYS_WRITE, 1, (long)text, (long)length);
}

_Noreturn void fs_exit(int code)
{
    for (;;) sh4_syscall3(SH4_SYS_EXIT, code, 0, 0);
}

void _start(void);
void _start(void) { fs_exit(fs_main()); }
