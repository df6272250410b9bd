#include <string.h>

#include "mrbench/registry.h"

void mrb_item_clear(mrb_item *item)
{
    mrb_array_free(item->image);
    mrb_array_free(item->sens);
    mrb_array_free(item->labels);
    memset(item, 0, sizeof *item);
}

#define MRB_DEFINE_FIND(kind)                                            \
    const mrb_##kind##_desc *mrb_##kind##_find(const char *name)         \
    {                                                                    \
        for (size_t i = 0; mrb_##kind##_table[i]; i++)                   \
            if (strcmp(mrb_##kind##_table[i]->name, name) == 0)          \
                return mrb_##kind##_table[i];                            \
        return NULL;                                                     \
    }

MRB_DEFINE_FIND(dataset)
MRB_DEFINE_FIND(sampler)
MRB_DEFINE_FIND(method)
MRB_DEFINE_FIND(metric)
