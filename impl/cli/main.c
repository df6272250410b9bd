#include <stdio.h>
#include "mrbench/registry.h"
int main(void) { printf("%p\n", (const void *)mrb_method_find("zero-filling")); return 0; }
