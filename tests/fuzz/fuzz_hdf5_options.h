/* Sanitizer settings of the HDF5 targets (fuzz_h5.c, fuzz_ismrmrd.c), which
 * include this header once. They concern libhdf5 1.10.8 (Debian 12), not
 * mrbench:
 *  - its error paths on corrupt files leak what it loaded (H5Fopen ->
 *    H5F_open, H5Dopen2 -> H5D__open_name, objects of its metadata cache
 *    (H5C_protect) and decoded header messages (H5O_msg_read), with datatypes
 *    of its library initialisation hanging off them): those stacks are
 *    suppressed. None of them is memory libhdf5 hands to its caller (vlen
 *    data, member names), whose leaks are still reported; mrbench's HDF5 ids
 *    are counted by mrb_fuzz_h5_check. libhdf5 has no frame pointers, so
 *    the slow unwinder is needed to see its frames;
 *  - it asks malloc for sizes read from the file (a local heap of 2^62
 *    bytes) and handles NULL: allocations beyond AddressSanitizer's maximum
 *    return NULL instead of aborting. libFuzzer's -malloc_limit_mb still
 *    reports any allocation above its limit, mrbench's included. */
#ifndef MRB_FUZZ_HDF5_OPTIONS_H
#define MRB_FUZZ_HDF5_OPTIONS_H

const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:H5F_open\nleak:H5D__open_name\nleak:H5C_protect\nleak:H5O_msg_read\nleak:H5T__init_package\n";
}

const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "fast_unwind_on_malloc=0:allocator_may_return_null=1";
}

#endif
