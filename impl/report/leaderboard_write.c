/* Leaderboard outputs: Markdown, CSV, JSON and one self-contained HTML page
 * (inline CSS, inline script for sortable tables, inline SVG chart; no
 * network resources). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mrbench/util.h"
#include "report/report_internal.h"

/* Geometry of the HTML page's rank chart (SVG user units). */
#define LB_SVG_WIDTH 860
#define LB_SVG_ROW 26
#define LB_SVG_LEFT 330

static void cell_num(rp_buf *b, const cJSON *o, const char *key, int digits)
{
    const cJSON *v = rp_get(o, key);
    if (cJSON_IsNumber(v))
        rp_num_text(b, v->valuedouble, digits);
    else
        rp_printf(b, "-");
}

static const char *scope_name(const cJSON *metric)
{
    return metric ? rp_str(metric, "id") : "overall";
}

/* Entries in rank order for a scope (stable: ties keep the board's order);
 * caller frees. */
static const cJSON **rows_by_rank(const cJSON *board, const char *scope, size_t *n)
{
    *n = (size_t)cJSON_GetArraySize(rp_get(board, "entries"));
    const cJSON **rows = calloc(*n ? *n : 1, sizeof *rows);
    if (!rows) return NULL;
    size_t k = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, rp_get(board, "entries")) rows[k++] = e;
    for (size_t a = 1; a < *n; a++)
        for (size_t c = a; c > 0 && rp_num(rp_get2(rows[c], "scores", scope), "rank") <
                                        rp_num(rp_get2(rows[c - 1], "scores", scope), "rank");
             c--) {
            const cJSON *t = rows[c];
            rows[c] = rows[c - 1];
            rows[c - 1] = t;
        }
    return rows;
}

static void md_table(rp_buf *md, const cJSON *board, const cJSON *metric)
{
    const char *scope = scope_name(metric);
    if (!metric)
        rp_printf(md,
                  "## Overall ranking\n\nRank-then-aggregate (BraTS): entries ranked on every item and metric, ranks "
                  "averaged per metric, then over metrics. Aggregate-then-rank: ranked on each metric's mean, ranks "
                  "averaged over metrics. Ties share the average rank.\n\n");
    else
        rp_printf(md, "## %s (%s is better)\n\n", scope,
                  cJSON_IsTrue(rp_get(metric, "higher_is_better")) ? "higher" : "lower");
    rp_printf(md,
              "| rank | entry | submission |%s mean rank | aggregate-then-rank | kept rank (bootstrap) | 95%% "
              "bootstrap rank range |\n",
              metric ? " mean |" : "");
    rp_printf(md, "|---:|---|---|%s---:|---:|---:|---|\n", metric ? "---:|" : "");
    size_t n;
    const cJSON **rows = rows_by_rank(board, scope, &n);
    if (!rows) {
        md->oom = 1;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const cJSON *s = rp_get2(rows[i], "scores", scope);
        rp_printf(md, "| ");
        cell_num(md, s, "rank", 4);
        rp_printf(md, " | ");
        rp_md_cell(md, rp_str(rows[i], "label"));
        rp_printf(md, " | ");
        rp_md_cell(md, rp_str(rows[i], "submission"));
        rp_printf(md, " | ");
        if (metric) {
            cell_num(md, s, "mean", 6);
            rp_printf(md, " | ");
        }
        cell_num(md, s, "mean_rank", 4);
        rp_printf(md, " | ");
        cell_num(md, s, "aggregate_then_rank", 4);
        rp_printf(md, " | %.1f%% | ", 100 * rp_num(s, "stability"));
        cell_num(md, s, "bootstrap_rank_low", 3);
        rp_printf(md, " - ");
        cell_num(md, s, "bootstrap_rank_high", 3);
        rp_printf(md, " |\n");
    }
    rp_printf(md, "\n");
    free(rows);
}

static void csv_rows(rp_buf *csv, const cJSON *board, const cJSON *metric)
{
    const char *scope = scope_name(metric);
    const cJSON *e;
    cJSON_ArrayForEach(e, rp_get(board, "entries")) {
        const cJSON *s = rp_get2(e, "scores", scope);
        rp_csv_cell(csv, scope);
        rp_printf(csv, ",");
        rp_csv_cell(csv, rp_str(e, "label"));
        rp_printf(csv, ",");
        rp_csv_cell(csv, rp_str(e, "submission"));
        rp_printf(csv, ",");
        rp_csv_cell(csv, rp_str(e, "method"));
        static const char *keys[] = {"rank",
                                     "mean",
                                     "mean_rank",
                                     "aggregate_then_rank",
                                     "stability",
                                     "bootstrap_rank_low",
                                     "bootstrap_rank_high",
                                     "bootstrap_rank_mean"};
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
            rp_printf(csv, ",");
            const cJSON *v = rp_get(s, keys[k]);
            if (cJSON_IsNumber(v)) rp_num_text(csv, v->valuedouble, 17);
        }
        rp_printf(csv, ",%g\n", rp_num(e, "missing_items"));
    }
}

static void html_table(rp_buf *h, const cJSON *board, const cJSON *metric, int index)
{
    const char *scope = scope_name(metric);
    rp_printf(h, "<h2>");
    rp_html_text(h, metric ? scope : "Overall ranking");
    if (metric)
        rp_printf(h, " <small>(%s is better)</small>",
                  cJSON_IsTrue(rp_get(metric, "higher_is_better")) ? "higher" : "lower");
    rp_printf(h, "</h2>\n<table class=\"sortable\" id=\"table-%d\" data-scope=\"", index);
    rp_html_text(h, scope);
    rp_printf(h,
              "\">\n<thead><tr><th data-type=\"num\">rank</th><th>entry</th><th>submission</th>%s"
              "<th data-type=\"num\">mean rank</th><th data-type=\"num\">aggregate-then-rank</th>"
              "<th data-type=\"num\">kept rank (bootstrap, %%)</th><th data-type=\"num\">95%% bootstrap rank low</th>"
              "<th data-type=\"num\">high</th></tr></thead>\n<tbody>\n",
              metric ? "<th data-type=\"num\">mean</th>" : "");
    size_t n;
    const cJSON **rows = rows_by_rank(board, scope, &n);
    if (!rows) {
        h->oom = 1;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const cJSON *e = rows[i];
        const cJSON *s = rp_get2(e, "scores", scope);
        rp_printf(h, "<tr><td>");
        cell_num(h, s, "rank", 4);
        rp_printf(h, "</td><td>");
        rp_html_text(h, rp_str(e, "label"));
        rp_printf(h, "</td><td>");
        rp_html_text(h, rp_str(e, "submission"));
        rp_printf(h, "</td>");
        if (metric) {
            rp_printf(h, "<td>");
            cell_num(h, s, "mean", 6);
            rp_printf(h, "</td>");
        }
        rp_printf(h, "<td>");
        cell_num(h, s, "mean_rank", 4);
        rp_printf(h, "</td><td>");
        cell_num(h, s, "aggregate_then_rank", 4);
        rp_printf(h, "</td><td>%.1f</td><td>", 100 * rp_num(s, "stability"));
        cell_num(h, s, "bootstrap_rank_low", 3);
        rp_printf(h, "</td><td>");
        cell_num(h, s, "bootstrap_rank_high", 3);
        rp_printf(h, "</td></tr>\n");
    }
    free(rows);
    rp_printf(h, "</tbody>\n</table>\n");
}

/* Horizontal chart: overall mean rank per entry with the bootstrap rank range. */
static void html_chart(rp_buf *h, const cJSON *board)
{
    size_t n = (size_t)cJSON_GetArraySize(rp_get(board, "entries"));
    double maxr = (double)(n ? n : 1);
    int height = (int)(n * LB_SVG_ROW) + 56;
    double scale = (LB_SVG_WIDTH - LB_SVG_LEFT - 20) / maxr;
    rp_printf(
        h,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"rank-chart\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
        "role=\"img\" aria-label=\"overall mean rank per entry with the 95%% bootstrap rank range\">\n",
        LB_SVG_WIDTH, height, LB_SVG_WIDTH, height);
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, rp_get(board, "entries")) {
        const cJSON *s = rp_get2(e, "scores", "overall");
        double y = 10 + (double)i * LB_SVG_ROW;
        double mr = rp_num(s, "mean_rank"), lo = rp_num(s, "bootstrap_rank_low"), hi = rp_num(s, "bootstrap_rank_high");
        rp_printf(h, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" font-size=\"12\">", LB_SVG_LEFT - 8, y + 15);
        rp_html_text(h, rp_str(e, "label"));
        rp_printf(h, "</text>\n");
        if (isfinite(mr))
            rp_printf(h,
                      "<rect x=\"%d\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" fill=\"#7aa6d6\"><title>mean rank "
                      "%.3g</title></rect>\n",
                      LB_SVG_LEFT, y + 3, mr * scale, LB_SVG_ROW - 8, mr);
        if (isfinite(lo) && isfinite(hi))
            rp_printf(h, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#222\" stroke-width=\"2\"/>\n",
                      LB_SVG_LEFT + lo * scale, LB_SVG_LEFT + hi * scale, y + LB_SVG_ROW / 2.0, y + LB_SVG_ROW / 2.0);
        i++;
    }
    double axis = 10 + (double)n * LB_SVG_ROW + 4;
    rp_printf(h, "<line x1=\"%d\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#444\"/>\n", LB_SVG_LEFT,
              LB_SVG_LEFT + maxr * scale, axis, axis);
    for (size_t r = 1; r <= n; r++)
        rp_printf(h, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"11\">%zu</text>\n",
                  LB_SVG_LEFT + (double)r * scale, axis + 16, r);
    rp_printf(h,
              "<text x=\"%d\" y=\"%.1f\" font-size=\"12\">overall mean rank (bar, lower is better) and 95%% "
              "bootstrap rank range (line)</text>\n",
              LB_SVG_LEFT, axis + 34);
    rp_printf(h, "</svg>\n");
}

static const char html_style[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin:0.5em 0 1.5em}th,td{border:1px solid #bbb;padding:0.25em 0.6em}"
    "td{text-align:right}td:nth-child(2),td:nth-child(3){text-align:left}"
    "th{background:#eef2f7;cursor:pointer;user-select:none}th.asc::after{content:' \\25B2'}th.desc::after{content:' "
    "\\25BC'}"
    "tbody tr:nth-child(odd){background:#fafafa}small{color:#555;font-weight:normal}.note{color:#444;max-width:60em}";

/* Sorts a table by the clicked column; numbers numerically, '-' last. */
static const char html_script[] =
    "(function(){\n"
    "function key(td,num){var t=td.textContent.trim();if(!num)return t;var v=parseFloat(t);return "
    "isNaN(v)?Infinity:v;}\n"
    "document.querySelectorAll('table.sortable').forEach(function(table){\n"
    " var ths=table.tHead.rows[0].cells;\n"
    " Array.prototype.forEach.call(ths,function(th,col){\n"
    "  th.addEventListener('click',function(){\n"
    "   var num=th.getAttribute('data-type')==='num';var asc=!th.classList.contains('asc');\n"
    "   Array.prototype.forEach.call(ths,function(o){o.classList.remove('asc','desc');});\n"
    "   th.classList.add(asc?'asc':'desc');\n"
    "   var body=table.tBodies[0];var rows=Array.prototype.slice.call(body.rows);\n"
    "   rows.sort(function(a,b){var x=key(a.cells[col],num),y=key(b.cells[col],num);"
    "var c=num?(x-y):String(x).localeCompare(String(y));if(isNaN(c))c=0;return asc?c:-c;});\n"
    "   rows.forEach(function(r){body.appendChild(r);});\n"
    "  });\n"
    " });\n"
    "});\n"
    "})();\n";

mrb_status mrb_leaderboard_write(const cJSON *board, const char *out_dir, mrb_leaderboard_outcome *outcome)
{
    mrb_leaderboard_outcome local;
    mrb_leaderboard_outcome *oc = outcome ? outcome : &local;
    memset(oc, 0, sizeof *oc);
    MRB_TRY(mrb_mkdirs(out_dir));
    const char *title = rp_str(board, "title");
    const cJSON *metrics = rp_get(board, "metrics"), *m;
    rp_buf md = {0}, csv = {0}, html = {0};

    rp_printf(&md,
              "# %s\n\n%g entries from %d submission(s), %g items; bootstrap stability from %g resamples of items "
              "(seed %g).\n\n",
              title, (double)cJSON_GetArraySize(rp_get(board, "entries")),
              cJSON_GetArraySize(rp_get(board, "submissions")), rp_num(board, "items"), rp_num(board, "resamples"),
              rp_num(board, "seed"));
    md_table(&md, board, NULL);
    cJSON_ArrayForEach(m, metrics) md_table(&md, board, m);
    rp_printf(&md, "Ranking rules: impl/report/README.md (mrbench leaderboard).\n");

    rp_printf(&csv,
              "scope,entry,submission,method,rank,mean,mean_rank,aggregate_then_rank,stability,bootstrap_rank_low,"
              "bootstrap_rank_high,bootstrap_rank_mean,missing_items\n");
    csv_rows(&csv, board, NULL);
    cJSON_ArrayForEach(m, metrics) csv_rows(&csv, board, m);

    rp_printf(&html, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
    rp_html_text(&html, title);
    rp_printf(&html, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>", html_style);
    rp_html_text(&html, title);
    rp_printf(&html,
              "</h1>\n<p class=\"note\">%d entries, %g items; stability: share of %g bootstrap resamples of the "
              "items (seed %g) in which an entry keeps its rank. Click a column heading to sort.</p>\n",
              cJSON_GetArraySize(rp_get(board, "entries")), rp_num(board, "items"), rp_num(board, "resamples"),
              rp_num(board, "seed"));
    html_chart(&html, board);
    html_table(&html, board, NULL, 0);
    int idx = 1;
    cJSON_ArrayForEach(m, metrics) html_table(&html, board, m, idx++);
    rp_printf(&html, "<h2>Submissions</h2>\n<ul>\n");
    const cJSON *s;
    cJSON_ArrayForEach(s, rp_get(board, "submissions")) {
        rp_printf(&html, "<li>");
        rp_html_text(&html, rp_str(s, "name"));
        rp_printf(&html, ": suite ");
        rp_html_text(&html, rp_str(s, "suite"));
        rp_printf(&html, " (SHA-256 %.12s), run %s</li>\n", rp_str(s, "suite_sha256"), rp_str(s, "started"));
    }
    rp_printf(&html,
              "</ul>\n<p class=\"note\">Rank-then-aggregate as in BraTS: entries are ranked on every item and "
              "metric (ties share the average rank, a missing value ranks last), the ranks are averaged per "
              "metric and then over metrics. Aggregate-then-rank ranks each metric's mean over items. Generated by "
              "mrbench.</p>\n<script>\n%s</script>\n</body>\n</html>\n",
              html_script);

    char *json = cJSON_Print(board);
    snprintf(oc->markdown, sizeof oc->markdown, "%s/leaderboard.md", out_dir);
    snprintf(oc->csv, sizeof oc->csv, "%s/leaderboard.csv", out_dir);
    snprintf(oc->html, sizeof oc->html, "%s/leaderboard.html", out_dir);
    snprintf(oc->json, sizeof oc->json, "%s/leaderboard.json", out_dir);
    mrb_status st = rp_buf_write(&md, oc->markdown);
    if (st == MRB_OK) st = rp_buf_write(&csv, oc->csv);
    if (st == MRB_OK) st = rp_buf_write(&html, oc->html);
    if (st == MRB_OK)
        st = json ? mrb_write_file_atomic(oc->json, json, strlen(json)) : mrb_error(MRB_ERR_NOMEM, "out of memory");
    free(json);
    free(md.s), free(csv.s), free(html.s);
    return st;
}
