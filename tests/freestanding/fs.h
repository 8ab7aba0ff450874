/*
 * The two services a freestanding test needs from its surroundings: write text and leave.
 * On SH-4 (no C library) fs_sh4_start.c implements them with system calls and provides
 * _start; on the host fs_host_shim.c implements them with the C library, so the same test
 * runs in the ordinary suite too.
 */
#ifndef FLMEM_FS_H
#define FLMEM_FS_H

#include <stddef.h>

void fs_write(const char *text, size_t length);
_Noreturn void fs_exit(int code);
int fs_main(void);

#endif
