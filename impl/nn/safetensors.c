/* safetensors files (the format of Hugging Face's `safetensors`, loadable with
 * safetensors.torch.load_file): an 8-byte little-endian header length, a JSON
 * header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__":
 * {string: string}}, then the raw little-endian tensor bytes; offsets are
 * relative to the first byte after the header. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mrbench/nn.h"

/* Header alignment: the reference implementation pads the JSON with spaces to
 * a multiple of 8 bytes so the data start aligned. */
#define ST_HEADER_ALIGN 8
/* Refuse headers larger than the reference implementation does (100 MB). */
#define ST_MAX_HEADER ((uint64_t)100000000)

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

static void swap32(void *p, size_t count)
{
    uint8_t *b = p;
    for (size_t i = 0; i < count; i++, b += 4) {
        uint8_t t0 = b[0], t1 = b[1];
        b[0] = b[3];
        b[1] = b[2];
        b[2] = t1;
        b[3] = t0;
    }
}

static mrb_status write_all(FILE *f, const void *p, size_t n, const char *path)
{
    if (n && fwrite(p, 1, n, f) != n) return mrb_error(MRB_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return MRB_OK;
}

mrb_status mrb_safetensors_write(const char *path, const mrb_named_tensor *ts, size_t n, const char *const *meta,
                                 size_t nmeta)
{
    cJSON *root = cJSON_CreateObject();
    if (!root) return mrb_error(MRB_ERR_NOMEM, "%s: out of memory", path);
    if (nmeta) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        for (size_t i = 0; m && i < nmeta; i++) cJSON_AddStringToObject(m, meta[2 * i], meta[2 * i + 1]);
    }
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        cJSON *e = cJSON_AddObjectToObject(root, ts[i].name);
        if (!e) {
            cJSON_Delete(root);
            return mrb_error(MRB_ERR_INVALID, "%s: cannot add tensor '%s' to the header", path, ts[i].name);
        }
        cJSON_AddStringToObject(e, "dtype", "F32");
        cJSON *shape = cJSON_AddArrayToObject(e, "shape");
        for (int k = 0; k < ts[i].t->ndim; k++)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)ts[i].t->shape[k]));
        uint64_t bytes = (uint64_t)mrb_tensor_count(ts[i].t) * sizeof(float);
        cJSON *offs = cJSON_AddArrayToObject(e, "data_offsets");
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(off + bytes)));
        off += bytes;
    }
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!json) return mrb_error(MRB_ERR_NOMEM, "%s: out of memory for the header", path);
    size_t jlen = strlen(json);
    size_t padded = (jlen + ST_HEADER_ALIGN - 1) / ST_HEADER_ALIGN * ST_HEADER_ALIGN;

    size_t tlen = strlen(path) + 32;
    char *tmp = malloc(tlen);
    if (!tmp) {
        free(json);
        return mrb_error(MRB_ERR_NOMEM, "%s: out of memory", path);
    }
    snprintf(tmp, tlen, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        mrb_status st = mrb_error(MRB_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        free(json);
        free(tmp);
        return st;
    }
    uint8_t len8[8];
    for (int k = 0; k < 8; k++) len8[k] = (uint8_t)((uint64_t)padded >> (8 * k));
    mrb_status st = write_all(f, len8, 8, tmp);
    if (st == MRB_OK) st = write_all(f, json, jlen, tmp);
    for (size_t k = jlen; st == MRB_OK && k < padded; k++) st = write_all(f, " ", 1, tmp);
    free(json);
    for (size_t i = 0; st == MRB_OK && i < n; i++) {
        size_t cnt = mrb_tensor_count(ts[i].t);
        if (host_is_little_endian()) {
            st = write_all(f, ts[i].t->data, cnt * sizeof(float), tmp);
        } else {
            float *copy = malloc(cnt * sizeof(float));
            if (!copy) {
                st = mrb_error(MRB_ERR_NOMEM, "%s: out of memory", tmp);
                break;
            }
            memcpy(copy, ts[i].t->data, cnt * sizeof(float));
            swap32(copy, cnt);
            st = write_all(f, copy, cnt * sizeof(float), tmp);
            free(copy);
        }
    }
    if (st == MRB_OK && (fflush(f) != 0 || fsync(fileno(f)) != 0))
        st = mrb_error(MRB_ERR_IO, "%s: flush failed: %s", tmp, strerror(errno));
    if (fclose(f) != 0 && st == MRB_OK) st = mrb_error(MRB_ERR_IO, "%s: close failed: %s", tmp, strerror(errno));
    if (st == MRB_OK && rename(tmp, path) != 0)
        st = mrb_error(MRB_ERR_IO, "%s: cannot rename from %s: %s", path, tmp, strerror(errno));
    if (st != MRB_OK) {
        remove(tmp);
    } else {
        /* Make the rename durable: fsync the containing directory. */
        char *dir = strdup(path);
        if (dir) {
            char *slash = strrchr(dir, '/');
            const char *d = slash ? (slash == dir ? "/" : (*slash = '\0', dir)) : ".";
            int fd = open(d, O_RDONLY);
            if (fd >= 0) {
                fsync(fd);
                close(fd);
            }
            free(dir);
        }
    }
    free(tmp);
    return st;
}

static mrb_status read_file(const char *path, uint8_t **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return mrb_error(MRB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || sb.st_size < 0) {
        fclose(f);
        return mrb_error(MRB_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    }
    *len = (size_t)sb.st_size;
    *buf = malloc(*len ? *len : 1);
    if (!*buf) {
        fclose(f);
        return mrb_error(MRB_ERR_NOMEM, "%s: out of memory for %zu bytes", path, *len);
    }
    size_t got = fread(*buf, 1, *len, f);
    fclose(f);
    if (got != *len) {
        free(*buf);
        *buf = NULL;
        return mrb_error(MRB_ERR_IO, "%s: short read (%zu of %zu bytes)", path, got, *len);
    }
    return MRB_OK;
}

static mrb_status read_tensor(const char *path, const cJSON *e, const mrb_named_tensor *nt, const uint8_t *data,
                              uint64_t data_len)
{
    char want[64];
    mrb_tensor_shape_str(nt->t, want, sizeof want);
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    if (!cJSON_IsString(dtype) || strcmp(dtype->valuestring, "F32") != 0)
        return mrb_error(MRB_ERR_INVALID, "%s: tensor '%s' has dtype %s (expected F32)", path, nt->name,
                         cJSON_IsString(dtype) ? dtype->valuestring : "(missing)");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
    int ok = cJSON_IsArray(shape) && cJSON_GetArraySize(shape) == nt->t->ndim;
    for (int k = 0; ok && k < nt->t->ndim; k++) {
        const cJSON *d = cJSON_GetArrayItem(shape, k);
        ok = cJSON_IsNumber(d) && d->valuedouble == (double)nt->t->shape[k];
    }
    if (!ok) {
        char *got = shape ? cJSON_PrintUnformatted(shape) : NULL;
        mrb_status st = mrb_error(MRB_ERR_INVALID, "%s: tensor '%s' has shape %s (expected %s)", path, nt->name,
                                  got ? got : "(missing)", want);
        free(got);
        return st;
    }
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 || !cJSON_IsNumber(cJSON_GetArrayItem(offs, 0)) ||
        !cJSON_IsNumber(cJSON_GetArrayItem(offs, 1)))
        return mrb_error(MRB_ERR_INVALID, "%s: tensor '%s' has no valid data_offsets", path, nt->name);
    double b = cJSON_GetArrayItem(offs, 0)->valuedouble, en = cJSON_GetArrayItem(offs, 1)->valuedouble;
    size_t cnt = mrb_tensor_count(nt->t);
    if (b < 0 || en < b || en - b != (double)(cnt * sizeof(float)))
        return mrb_error(MRB_ERR_INVALID, "%s: tensor '%s' data_offsets [%.0f, %.0f] do not hold %zu floats", path,
                         nt->name, b, en, cnt);
    if (en > (double)data_len)
        return mrb_error(MRB_ERR_INVALID,
                         "%s: tensor '%s' ends at byte %.0f of a %" PRIu64 "-byte data section (truncated file?)", path,
                         nt->name, en, data_len);
    memcpy(nt->t->data, data + (uint64_t)b, cnt * sizeof(float));
    if (!host_is_little_endian()) swap32(nt->t->data, cnt);
    return MRB_OK;
}

static mrb_status st_read(const char *path, const mrb_named_tensor *ts, size_t n, int meta_only,
                          void (*get_meta)(void *ctx, const char *key, const char *value), void *ctx)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    MRB_TRY(read_file(path, &buf, &len));
    mrb_status st = MRB_OK;
    uint64_t hlen = 0;
    if (len < 8) {
        st = mrb_error(MRB_ERR_INVALID, "%s: %zu bytes is too short for a safetensors file", path, len);
        goto done;
    }
    for (int k = 0; k < 8; k++) hlen |= (uint64_t)buf[k] << (8 * k);
    if (hlen > ST_MAX_HEADER || hlen > len - 8) {
        st = mrb_error(MRB_ERR_INVALID, "%s: header length %" PRIu64 " exceeds the file (%zu bytes; truncated?)", path,
                       hlen, len);
        goto done;
    }
    cJSON *root = cJSON_ParseWithLength((const char *)buf + 8, (size_t)hlen);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        st = mrb_error(MRB_ERR_INVALID, "%s: the header is not a JSON object", path);
        goto done;
    }
    const uint8_t *data = buf + 8 + hlen;
    uint64_t data_len = len - 8 - hlen;
    for (size_t i = 0; st == MRB_OK && i < n; i++) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, ts[i].name);
        if (!cJSON_IsObject(e))
            st = mrb_error(MRB_ERR_INVALID, "%s: tensor '%s' is missing", path, ts[i].name);
        else
            st = read_tensor(path, e, &ts[i], data, data_len);
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, root) {
        if (st != MRB_OK) break;
        if (strcmp(item->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(item)) {
                st = mrb_error(MRB_ERR_INVALID, "%s: __metadata__ is not an object of strings", path);
                break;
            }
            const cJSON *m;
            cJSON_ArrayForEach(m, item) {
                if (!cJSON_IsString(m)) {
                    st = mrb_error(MRB_ERR_INVALID, "%s: metadata '%s' is not a string", path, m->string);
                    break;
                }
                if (get_meta) get_meta(ctx, m->string, m->valuestring);
            }
            continue;
        }
        if (meta_only) continue;
        int known = 0;
        for (size_t i = 0; i < n && !known; i++) known = strcmp(ts[i].name, item->string) == 0;
        if (!known) st = mrb_error(MRB_ERR_INVALID, "%s: unexpected tensor '%s'", path, item->string);
    }
    cJSON_Delete(root);
done:
    free(buf);
    return st;
}

mrb_status mrb_safetensors_read(const char *path, const mrb_named_tensor *ts, size_t n,
                                void (*get_meta)(void *ctx, const char *key, const char *value), void *ctx)
{
    return st_read(path, ts, n, 0, get_meta, ctx);
}

mrb_status mrb_safetensors_read_meta(const char *path, void (*get_meta)(void *ctx, const char *key, const char *value),
                                     void *ctx)
{
    return st_read(path, NULL, 0, 1, get_meta, ctx);
}
