/* Suite loading: every malformed suite in tests/suites/bad/ is refused with
 * MRB_ERR_INVALID and a message naming the file and the JSON path; valid
 * suites give the documented cross product of cases with stable keys. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mrbench/suite.h"
#include "mrbench/util.h"

#define BAD_DIR MRB_SOURCE_DIR "/tests/suites/bad"

Test(suite, every_bad_suite_is_refused_with_its_message)
{
    char *tsv = NULL;
    cr_assert_eq(mrb_read_file(BAD_DIR "/expected.tsv", &tsv, NULL), MRB_OK);
    size_t checked = 0;
    for (char *line = strtok(tsv, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#') continue;
        char *tab = strchr(line, '\t');
        cr_assert(tab, "expected.tsv line without a tab: %s", line);
        *tab = '\0';
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", BAD_DIR, line);
        mrb_suite *s = NULL;
        mrb_status st = mrb_suite_load(path, &s);
        cr_expect_eq(st, MRB_ERR_INVALID, "%s: expected MRB_ERR_INVALID, got %d", line, st);
        cr_expect_null(s);
        cr_expect(strstr(mrb_error_message(), tab + 1) != NULL, "%s: message '%s' lacks '%s'", line,
                  mrb_error_message(), tab + 1);
        cr_expect(strstr(mrb_error_message(), line) != NULL, "%s: message does not name the file", line);
        cr_expect(strchr(mrb_error_message(), '\n') == NULL, "%s: message is not one line", line);
        checked++;
    }
    free(tsv);
    cr_assert_geq(checked, 15, "only %zu malformed suites checked", checked);

    /* every bad file is listed, so none is silently untested */
    DIR *d = opendir(BAD_DIR);
    cr_assert(d);
    size_t files = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, ".json")) files++;
    closedir(d);
    cr_assert_eq(files, checked, "%zu .json files but %zu listed in expected.tsv", files, checked);
}

static const char valid[] =
    "{\"mrbench_suite\": 1, \"name\": \"t\", \"seed\": 7,\n"
    " \"datasets\": [{\"id\": \"a\", \"generator\": \"shepp-logan\", \"params\": {\"size\": 64, \"cases\": 2}},\n"
    "              {\"id\": \"b\", \"generator\": \"shepp-logan\", \"params\": {\"size\": 32, \"cases\": 1}}],\n"
    " \"sampling\": [{\"sampler\": \"cartesian-vd\", \"params\": {\"acceleration\": 4}},\n"
    "              {\"sampler\": \"cartesian-vd\", \"params\": {\"acceleration\": 8}}],\n"
    " \"methods\": [{\"method\": \"zero-filling\"}],\n"
    " \"metrics\": [\"psnr\", {\"metric\": \"ssim\", \"id\": \"ssim-gauss\", \"params\": {\"gaussian\": true}}]}\n";

Test(suite, cross_product_defines_cases_with_stable_keys)
{
    mrb_suite *s = NULL;
    mrb_status st = mrb_suite_parse(valid, strlen(valid), "valid.json", ".", &s);
    cr_assert_eq(st, MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_suite_case_count(s), 2 * 2 * 1);
    char key[256];
    mrb_suite_case_key(s, 0, key, sizeof key);
    cr_expect_str_eq(key, "a/cartesian-vd-r4/zero-filling");
    mrb_suite_case_key(s, 3, key, sizeof key);
    cr_expect_str_eq(key, "b/cartesian-vd-r8/zero-filling");
    cr_expect_str_eq(s->metrics[1].id, "ssim-gauss");
    cr_expect_eq(s->warmup, 1);
    cr_expect_eq(s->repeats, 3);
    cr_expect_eq(s->datasets[0].nindices, 2);
    char sha[65];
    mrb_sha256_hex(valid, strlen(valid), sha);
    cr_expect_str_eq(s->sha256, sha);
    mrb_suite_free(s);
}

/* Suite seeds are read through a double: every integer up to 2^53 - 1 is kept
 * exactly; 2^53 and above, fractions and negatives are refused, since a
 * larger value would silently become a neighbouring seed. */
static mrb_status parse_with_seed(const char *seed, mrb_suite **s)
{
    char text[1024];
    snprintf(text, sizeof text,
             "{\"mrbench_suite\": 1, \"name\": \"t\", \"seed\": %s,\n"
             " \"datasets\": [{\"generator\": \"shepp-logan\"}], \"sampling\": [{\"sampler\": \"cartesian-vd\"}],\n"
             " \"methods\": [{\"method\": \"zero-filling\"}], \"metrics\": [\"psnr\"]}\n",
             seed);
    *s = NULL;
    return mrb_suite_parse(text, strlen(text), "seed.json", ".", s);
}

Test(suite, seed_is_an_exact_integer_up_to_2_to_the_53_minus_1)
{
    static const struct {
        const char *text;
        unsigned long long want;
    } ok[] = {{"0", 0}, {"20171001", 20171001}, {"9007199254740991", 9007199254740991ULL}, {"1e3", 1000}};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        mrb_suite *s = NULL;
        cr_assert_eq(parse_with_seed(ok[i].text, &s), MRB_OK, "%s: %s", ok[i].text, mrb_error_message());
        cr_expect_eq(s->seed, ok[i].want, "%s", ok[i].text);
        mrb_suite_free(s);
    }
    cr_expect_eq(MRB_SUITE_SEED_MAX, (1ULL << 53) - 1);
    static const char *const bad[] = {
        "9007199254740992", "9007199254740993", "18446744073709551615", "1e300", "-1", "0.5", "\"7\"", "null"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        mrb_suite *s = NULL;
        cr_expect_eq(parse_with_seed(bad[i], &s), MRB_ERR_INVALID, "%s accepted", bad[i]);
        cr_expect_null(s);
        cr_expect(strstr(mrb_error_message(), "seed.json: seed: expected an integer in [0, 2^53 - 1") != NULL,
                  "%s: message '%s'", bad[i], mrb_error_message());
        mrb_suite_free(s);
    }
}

/* training.sampling takes one id or a list (mixed accelerations); the first
 * listed is also `sampling`. */
static void check_training_samplings(const char *value, size_t n, const size_t *want)
{
    char text[2048];
    snprintf(
        text, sizeof text,
        "{\"mrbench_suite\": 1, \"name\": \"t\", \"seed\": 7,\n"
        " \"datasets\": [{\"id\": \"cine\", \"manifest\": \"datasets/cine-train-64.json\", \"split\": \"test\"}],\n"
        " \"sampling\": [{\"id\": \"r4\", \"sampler\": \"cartesian-vd\", \"params\": {\"acceleration\": 4}},\n"
        "              {\"id\": \"r8\", \"sampler\": \"cartesian-vd\", \"params\": {\"acceleration\": 8}}],\n"
        " \"methods\": [{\"id\": \"net\", \"method\": \"cascade-2dt\", \"params\": {\"weights\": \"w.st\"}}],\n"
        " \"metrics\": [\"psnr\"],\n"
        " \"training\": {\"dataset\": \"cine\", \"sampling\": %s, \"method\": \"net\", \"weights\": \"w.st\"}}\n",
        value);
    mrb_suite *s = NULL;
    mrb_status st = mrb_suite_parse(text, strlen(text), "t.json", MRB_SOURCE_DIR, &s);
    cr_assert_eq(st, MRB_OK, "%s: %s", value, mrb_error_message());
    cr_expect_eq(s->training.nsamplings, n, "%s", value);
    for (size_t i = 0; i < n && i < s->training.nsamplings; i++)
        cr_expect_eq(s->training.samplings[i], want[i], "%s: entry %zu", value, i);
    cr_expect_eq(s->training.sampling, want[0], "%s: the first is `sampling`", value);
    mrb_suite_free(s);
}

Test(suite, training_sampling_is_one_id_or_a_list)
{
    static const size_t r8[] = {1}, r8_r4[] = {1, 0};
    check_training_samplings("\"r8\"", 1, r8);
    check_training_samplings("[\"r8\"]", 1, r8);
    check_training_samplings("[\"r8\", \"r4\"]", 2, r8_r4);
}

Test(suite, embedded_quickstart_is_valid)
{
    mrb_suite *s = NULL;
    mrb_status st = mrb_suite_load_embedded("quickstart", &s);
    cr_assert_eq(st, MRB_OK, "%s", mrb_error_message());
    cr_expect_str_eq(s->name, "quickstart");
    cr_expect_geq(mrb_suite_case_count(s), 4);
    mrb_suite_free(s);
    cr_expect_eq(mrb_suite_load_embedded("no-such", &s), MRB_ERR_INVALID);
}

Test(suite, every_shipped_suite_validates)
{
    DIR *d = opendir(MRB_SOURCE_DIR "/suites");
    cr_assert(d);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/suites/%s", MRB_SOURCE_DIR, e->d_name);
        mrb_suite *s = NULL;
        mrb_status st = mrb_suite_load(path, &s);
        cr_expect_eq(st, MRB_OK, "%s: %s", e->d_name, mrb_error_message());
        mrb_suite_free(s);
        n++;
    }
    closedir(d);
    cr_expect_geq(n, 1);
}
