/* Host side of fs.h: the freestanding allocator test as an ordinary program. */
#include "fs.h"

#include <stdio.h>
#include <stdlib.h>

void fs_write(const char *text, size_t length) { fwrite(text, 1, length, stdout); }

_Noreturn void fs_exit(int code)
{
    fflush(stdout);
    exit(code);
}

int main(void) { return fs_main(); }
