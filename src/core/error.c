/*
 * The calling thread's last error, and the small formatter that writes its message.
 * The library links against no printf (it must build freestanding), so the formatter knows
 * exactly the conversions our messages use.
 */
#include "core.h"

#include <stdarg.h>

#define FLI_MESSAGE_CAPACITY 256

typedef struct error_slot {
    fl_error error;
    char message[FLI_MESSAGE_CAPACITY];
} error_slot;

static FLI_THREAD_LOCAL error_slot last_error = {{FL_OK, "no error"}, "no error"};

typedef struct text_sink {
    char *buf;
    size_t len, cap; /* cap includes the terminating NUL */
} text_sink;

static void sink_char(text_sink *s, char c)
{
    if (s->len + 1 < s->cap) s->buf[s->len++] = c;
}

static void sink_str(text_sink *s, const char *str)
{
    if (!str) str = "(null)";
    while (*str) sink_char(s, *str++);
}

static void sink_unsigned(text_sink *s, unsigned long long v, unsigned base)
{
    char digits[24];
    unsigned n = 0;
    do {
        unsigned d = (unsigned)(v % base);
        digits[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v != 0);
    while (n > 0) sink_char(s, digits[--n]);
}

static void format_into(text_sink *s, const char *format, va_list args)
{
    for (const char *f = format; *f; f++) {
        if (*f != '%') {
            sink_char(s, *f);
            continue;
        }
        f++;
        if (*f == 's') {
            sink_str(s, va_arg(args, const char *));
        } else if (*f == 'd') {
            int v = va_arg(args, int);
            if (v < 0) {
                sink_char(s, '-');
                sink_unsigned(s, 0ull - (unsigned long long)v, 10);
            } else {
                sink_unsigned(s, (unsigned long long)v, 10);
            }
        } else if (*f == 'u') {
            sink_unsigned(s, va_arg(args, unsigned), 10);
        } else if (f[0] == 'z' && f[1] == 'u') {
            sink_unsigned(s, va_arg(args, size_t), 10);
            f++;
        } else if (f[0] == 'l' && f[1] == 'l' && f[2] == 'u') {
            sink_unsigned(s, va_arg(args, unsigned long long), 10);
            f += 2;
        } else if (*f == 'p') {
            sink_str(s, "0x");
            sink_unsigned(s, (unsigned long long)(uintptr_t)va_arg(args, void *), 16);
        } else if (*f == '%') {
            sink_char(s, '%');
        } else {
            /* An unknown conversion is a bug in a message of ours: show it, stop reading args. */
            sink_char(s, '%');
            if (*f) sink_char(s, *f);
            else break;
            sink_str(s, format + (f - format) + 1);
            break;
        }
    }
    s->buf[s->len] = '\0';
}

fl_status fli_fail(fl_status status, const char *format, ...)
{
    text_sink sink = {last_error.message, 0, FLI_MESSAGE_CAPACITY};
    va_list args;
    va_start(args, format);
    format_into(&sink, format, args);
    va_end(args);
    last_error.error.category = status;
    last_error.error.message = last_error.message;
    return status;
}

const fl_error *fl_last_error(void)
{
    last_error.error.message = last_error.message;
    return &last_error.error;
}

fl_status fli_fail_alignment(size_t alignment)
{
    if (!fli_is_pow2(alignment))
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "alignment %zu is not a power of two", alignment);
    return fli_fail(FL_ERR_INVALID_PARAMETERS, "alignment %zu exceeds the largest supported alignment %zu",
                    alignment, FL_ALIGN_MAX);
}
