/* PNG output: 8-bit grey and RGB images, label overlays.
 *
 * Format: PNG specification (W3C, 2nd edition, ISO/IEC 15948): signature,
 * IHDR, one zlib-compressed IDAT with filter type 0 on every row, IEND;
 * each chunk closed by the CRC-32 of its type and data. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "io/io_internal.h"
#include "mrbench/io.h"

static const unsigned char png_signature[8] = {137, 80, 78, 71, 13, 10, 26, 10};
/* IHDR colour types (PNG spec, table 11.1). */
#define PNG_COLOUR_GREY 0
#define PNG_COLOUR_RGB 2
/* PNG limits width and height to 2^31 - 1 (PNG spec, 11.2.2). */
#define PNG_MAX_SIDE 0x7fffffffu
#define PNG_ZLIB_LEVEL 6

/* matplotlib "tab10" (matplotlib/_cm.py, _tab10_data), in 8-bit. */
static const uint8_t label_colours[10][3] = {
    {31, 119, 180}, {255, 127, 14},  {44, 160, 44},   {214, 39, 40},  {148, 103, 189},
    {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207},
};

void mrb_png_label_colour(unsigned label, uint8_t rgb[3])
{
    unsigned k = label == 0 ? 0 : (label - 1) % 10;
    memcpy(rgb, label_colours[k], 3);
}

static void be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Writes a PNG of h rows of w pixels with `channels` bytes each. */
static mrb_status write_png(const char *path, const uint8_t *pix, size_t w, size_t h, int channels)
{
    if (!path || !pix) return mrb_error(MRB_ERR_INVALID, "png: no path or no pixels");
    if (w == 0 || h == 0 || w > PNG_MAX_SIDE || h > PNG_MAX_SIDE)
        return mrb_error(MRB_ERR_INVALID, "%s: image %zux%zu cannot be a PNG", path, w, h);
    size_t row = w * (size_t)channels + 1;
    if (row / (size_t)channels < w || h > SIZE_MAX / row)
        return mrb_error(MRB_ERR_INVALID, "%s: image %zux%zu too large", path, w, h);
    size_t raw_len = row * h;
    if ((uLong)raw_len != raw_len)
        return mrb_error(MRB_ERR_INVALID, "%s: image %zux%zu too large for one IDAT", path, w, h);
    unsigned char *raw = malloc(raw_len);
    uLong zcap = compressBound((uLong)raw_len);
    unsigned char *z = malloc(zcap + 12);
    if (!raw || !z) {
        free(raw);
        free(z);
        return mrb_error(MRB_ERR_NOMEM, "%s: out of memory", path);
    }
    for (size_t y = 0; y < h; y++) {
        raw[y * row] = 0; /* filter type None */
        memcpy(raw + y * row + 1, pix + y * w * (size_t)channels, w * (size_t)channels);
    }
    uLongf zlen = zcap;
    int rc = compress2(z + 8, &zlen, raw, (uLong)raw_len, PNG_ZLIB_LEVEL);
    free(raw);
    if (rc != Z_OK || zlen > 0x7fffffffu) {
        free(z);
        return mrb_error(MRB_ERR_IO, "%s: zlib compression failed (%d)", path, rc);
    }
    /* IDAT chunk in place: length, type, data, crc. */
    be32(z, (uint32_t)zlen);
    memcpy(z + 4, "IDAT", 4);
    be32(z + 8 + zlen, (uint32_t)crc32(crc32(0, NULL, 0), z + 4, (uInt)(zlen + 4)));

    unsigned char ihdr[25];
    be32(ihdr, 13);
    memcpy(ihdr + 4, "IHDR", 4);
    be32(ihdr + 8, (uint32_t)w);
    be32(ihdr + 12, (uint32_t)h);
    ihdr[16] = 8; /* bit depth */
    ihdr[17] = channels == 1 ? PNG_COLOUR_GREY : PNG_COLOUR_RGB;
    ihdr[18] = 0; /* compression: deflate */
    ihdr[19] = 0; /* filter method 0 */
    ihdr[20] = 0; /* no interlace */
    be32(ihdr + 21, (uint32_t)crc32(crc32(0, NULL, 0), ihdr + 4, 17));

    unsigned char iend[12];
    be32(iend, 0);
    memcpy(iend + 4, "IEND", 4);
    be32(iend + 8, (uint32_t)crc32(crc32(0, NULL, 0), iend + 4, 4));

    mrb_io_piece pieces[4] = {{png_signature, 8}, {ihdr, sizeof ihdr}, {z, (size_t)zlen + 12}, {iend, sizeof iend}};
    mrb_status st = mrb_io_write_file(path, pieces, 4, 0);
    free(z);
    return st;
}

static mrb_status window(const char *path, const float *img, size_t n, float lo, float hi, uint8_t *grey)
{
    if (!(hi > lo) || !isfinite(lo) || !isfinite(hi))
        return mrb_error(MRB_ERR_INVALID, "%s: window [%g, %g] is empty or not finite", path, (double)lo, (double)hi);
    double scale = 255.0 / ((double)hi - (double)lo);
    for (size_t i = 0; i < n; i++) {
        double v = ((double)img[i] - lo) * scale;
        if (!(v > 0)) v = 0; /* also NaN */
        if (v > 255) v = 255;
        grey[i] = (uint8_t)lrint(v);
    }
    return MRB_OK;
}

static mrb_status check_size(const char *path, size_t w, size_t h, size_t channels)
{
    if (!path) return mrb_error(MRB_ERR_INVALID, "png: no file name");
    if (w == 0 || h == 0 || w > PNG_MAX_SIDE || h > PNG_MAX_SIDE || w > SIZE_MAX / h / channels)
        return mrb_error(MRB_ERR_INVALID, "%s: image %zux%zu cannot be a PNG", path, w, h);
    return MRB_OK;
}

mrb_status mrb_png_write_gray(const char *path, const float *img, size_t w, size_t h, float lo, float hi)
{
    MRB_TRY(check_size(path, w, h, 1));
    if (!img) return mrb_error(MRB_ERR_INVALID, "%s: no image", path);
    uint8_t *grey = malloc(w * h);
    if (!grey) return mrb_error(MRB_ERR_NOMEM, "%s: out of memory", path);
    mrb_status st = window(path, img, w * h, lo, hi, grey);
    if (st == MRB_OK) st = write_png(path, grey, w, h, 1);
    free(grey);
    return st;
}

mrb_status mrb_png_write_rgb(const char *path, const uint8_t *rgb, size_t w, size_t h)
{
    MRB_TRY(check_size(path, w, h, 3));
    return write_png(path, rgb, w, h, 3);
}

mrb_status mrb_png_overlay_labels(const char *path, const float *img, const uint8_t *labels, size_t w, size_t h,
                                  float lo, float hi, float alpha)
{
    MRB_TRY(check_size(path, w, h, 3));
    if (!img || !labels) return mrb_error(MRB_ERR_INVALID, "%s: no image or labels", path);
    if (!(alpha >= 0.0f && alpha <= 1.0f))
        return mrb_error(MRB_ERR_INVALID, "%s: alpha %g outside [0, 1]", path, (double)alpha);
    size_t n = w * h;
    uint8_t *grey = malloc(n);
    uint8_t *rgb = malloc(3 * n);
    mrb_status st = MRB_OK;
    if (!grey || !rgb) {
        st = mrb_error(MRB_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    st = window(path, img, n, lo, hi, grey);
    if (st != MRB_OK) goto done;
    for (size_t i = 0; i < n; i++) {
        uint8_t c[3];
        for (int k = 0; k < 3; k++) rgb[3 * i + k] = grey[i];
        if (labels[i] == 0) continue;
        mrb_png_label_colour(labels[i], c);
        for (int k = 0; k < 3; k++)
            rgb[3 * i + k] = (uint8_t)lrintf((1.0f - alpha) * (float)grey[i] + alpha * (float)c[k]);
    }
    st = write_png(path, rgb, w, h, 3);
done:
    free(grey);
    free(rgb);
    return st;
}
