/* PNG writer: a minimal decoder here checks the chunk structure, CRCs and
 * pixels; scikit-image (an independent PNG reader) reads the same files. */
#include <math.h>
#include <zlib.h>

#include "test_io_util.h"

/* Windowing maps lo -> 0, hi -> 255 with rounding: exact integers. */
#define W 7
#define H 5

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Decodes an 8-bit grey (channels 1) or RGB (3) PNG written with filter 0
 * into pix; checks signature, chunk CRCs, IHDR and the IEND. */
static void decode_png(const char *path, size_t w, size_t h, int channels, uint8_t *pix)
{
    static const unsigned char sig[8] = {137, 80, 78, 71, 13, 10, 26, 10};
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    unsigned char buf[65536];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    cr_assert_eq(memcmp(buf, sig, 8), 0, "signature");
    size_t pos = 8;
    unsigned char idat[65536];
    size_t idat_len = 0;
    int seen_ihdr = 0, seen_iend = 0;
    while (pos + 12 <= len) {
        uint32_t n = be32(buf + pos);
        cr_assert_leq(pos + 12 + n, len, "chunk inside the file");
        const unsigned char *type = buf + pos + 4;
        uint32_t crc = (uint32_t)crc32(0, type, n + 4);
        cr_assert_eq(crc, be32(buf + pos + 8 + n), "CRC of %.4s", (const char *)type);
        if (memcmp(type, "IHDR", 4) == 0) {
            cr_assert_eq(n, 13u);
            cr_assert_eq(be32(type + 4), w);
            cr_assert_eq(be32(type + 8), h);
            cr_assert_eq(type[12], 8, "bit depth");
            cr_assert_eq(type[13], channels == 1 ? 0 : 2, "colour type");
            seen_ihdr = 1;
        } else if (memcmp(type, "IDAT", 4) == 0) {
            memcpy(idat + idat_len, type + 4, n);
            idat_len += n;
        } else if (memcmp(type, "IEND", 4) == 0) {
            seen_iend = 1;
        }
        pos += 12 + n;
    }
    cr_assert(seen_ihdr && seen_iend);
    cr_assert_eq(pos, len, "nothing after IEND");
    unsigned char raw[65536];
    uLongf raw_len = sizeof raw;
    cr_assert_eq(uncompress(raw, &raw_len, idat, idat_len), Z_OK);
    size_t row = w * (size_t)channels;
    cr_assert_eq(raw_len, (row + 1) * h);
    for (size_t y = 0; y < h; y++) {
        cr_assert_eq(raw[y * (row + 1)], 0, "filter type");
        memcpy(pix + y * row, raw + y * (row + 1) + 1, row);
    }
}

static void skimage_check(const char *dir, const char *png, const uint8_t *want, size_t w, size_t h, int channels)
{
    if (!have_debian_python("skimage.io, numpy")) return;
    char raw[256], cmd[700];
    snprintf(raw, sizeof raw, "%s/want.raw", dir);
    FILE *f = fopen(raw, "wb");
    fwrite(want, 1, w * h * (size_t)channels, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, DEBIAN_PYTHON " %scheck_written.py png %s %s %zu %zu %d", GOLDEN_IO, png, raw, w, h,
             channels);
    cr_assert_eq(system(cmd), 0, "scikit-image check of %s", png);
}

Test(io_png, gray_window_and_rows,
     .description = "grey PNG: img[y*w+x] at row y, column x; lo -> 0, hi -> 255, values "
                    "outside clamped, NaN -> 0; read back by zlib and by scikit-image")
{
    char dir[64], path[256];
    tmpdir_make(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/g.png", dir);
    float img[W * H];
    uint8_t want[W * H], got[W * H];
    const float lo = -1.0f, hi = 254.0f; /* 255 levels: value v -> v + 1 */
    for (int i = 0; i < W * H; i++) {
        img[i] = (float)(i * 7 - 2);
        double v = img[i] - lo;
        want[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
    img[3] = NAN;
    want[3] = 0;
    img[4] = 1e9f;
    want[4] = 255;
    cr_assert_eq(mrb_png_write_gray(path, img, W, H, lo, hi), MRB_OK, "%s", mrb_error_message());
    decode_png(path, W, H, 1, got);
    for (int i = 0; i < W * H; i++) cr_assert_eq(got[i], want[i], "pixel %d: %d != %d", i, got[i], want[i]);
    skimage_check(dir, path, want, W, H, 1);
    cr_assert_eq(mrb_png_write_gray(path, img, W, H, 1.0f, 1.0f), MRB_ERR_INVALID, "empty window");
    cr_assert_eq(mrb_png_write_gray(path, img, 0, H, lo, hi), MRB_ERR_INVALID, "zero width");
    tmpdir_remove(dir);
}

Test(io_png, rgb_and_label_overlay,
     .description = "RGB PNG round trips exactly; the overlay blends each label's tab10 colour "
                    "with weight alpha and leaves label 0 grey")
{
    char dir[64], path[256];
    tmpdir_make(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/rgb.png", dir);
    uint8_t rgb[W * H * 3], got[W * H * 3];
    for (int i = 0; i < W * H * 3; i++) rgb[i] = (uint8_t)(i * 11);
    cr_assert_eq(mrb_png_write_rgb(path, rgb, W, H), MRB_OK, "%s", mrb_error_message());
    decode_png(path, W, H, 3, got);
    cr_assert_eq(memcmp(got, rgb, sizeof rgb), 0);
    skimage_check(dir, path, rgb, W, H, 3);

    snprintf(path, sizeof path, "%s/overlay.png", dir);
    float img[W * H];
    uint8_t labels[W * H];
    for (int i = 0; i < W * H; i++) {
        img[i] = 100.0f;
        labels[i] = (uint8_t)(i % 12); /* 0..11: background, tab10, wrap to colour 1 */
    }
    const float alpha = 0.5f;
    cr_assert_eq(mrb_png_overlay_labels(path, img, labels, W, H, 0.0f, 255.0f, alpha), MRB_OK);
    decode_png(path, W, H, 3, got);
    static const uint8_t tab10_blue[3] = {31, 119, 180};
    for (int i = 0; i < W * H; i++) {
        uint8_t c[3] = {100, 100, 100};
        if (labels[i]) mrb_png_label_colour(labels[i], c);
        for (int k = 0; k < 3; k++) {
            int want = labels[i] ? (int)lrintf((1 - alpha) * 100.0f + alpha * c[k]) : 100;
            cr_assert_eq(got[3 * i + k], want, "pixel %d channel %d", i, k);
        }
    }
    uint8_t c1[3], c11[3];
    mrb_png_label_colour(1, c1);
    mrb_png_label_colour(11, c11);
    cr_assert_eq(memcmp(c1, tab10_blue, 3), 0, "label 1 is tab10 blue");
    cr_assert_eq(memcmp(c11, tab10_blue, 3), 0, "label 11 wraps to label 1");
    cr_assert_eq(mrb_png_overlay_labels(path, img, labels, W, H, 0.0f, 255.0f, 1.5f), MRB_ERR_INVALID);
    tmpdir_remove(dir);
}
