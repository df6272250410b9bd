#include <string.h>

#include "mrbench/registry.h"
#include "mrbench/util.h"

void mrb_item_clear(mrb_item *item)
{
    mrb_array_free(item->image);
    mrb_array_free(item->sens);
    mrb_array_free(item->labels);
    memset(item, 0, sizeof *item);
}

#define MRB_DEFINE_FIND(kind)                                                                                          \
    const mrb_##kind##_desc *mrb_##kind##_find(const char *name)                                                       \
    {                                                                                                                  \
        for (size_t i = 0; mrb_##kind##_table[i]; i++)                                                                 \
            if (strcmp(mrb_##kind##_table[i]->name, name) == 0) return mrb_##kind##_table[i];                          \
        return NULL;                                                                                                   \
    }

MRB_DEFINE_FIND(dataset)
MRB_DEFINE_FIND(sampler)
MRB_DEFINE_FIND(method)
MRB_DEFINE_FIND(metric)

#define MRB_NAMES_MAX 256
#define MRB_DEFINE_NEAREST(kind)                                                                                       \
    const char *mrb_##kind##_nearest(const char *name)                                                                 \
    {                                                                                                                  \
        const char *names[MRB_NAMES_MAX];                                                                              \
        size_t n = 0;                                                                                                  \
        for (; mrb_##kind##_table[n] && n < MRB_NAMES_MAX; n++) names[n] = mrb_##kind##_table[n]->name;                \
        return mrb_nearest(name, names, n);                                                                            \
    }

MRB_DEFINE_NEAREST(dataset)
MRB_DEFINE_NEAREST(sampler)
MRB_DEFINE_NEAREST(method)
MRB_DEFINE_NEAREST(metric)
