/* Placeholder until the stack strategy lands: creation reports that it does not exist yet. */
#include "allocator.h"

static fl_status stack_init(void *memory, size_t size, const fl_allocator_config *cfg, fl_allocator **out)
{
    (void)memory; (void)size; (void)cfg; (void)out;
    return fli_fail(FL_ERR_NOT_SUPPORTED, "the stack allocator is not built yet");
}

const fli_allocator_ops fli_stack_ops = {.init = stack_init};
