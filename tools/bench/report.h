// SPDX-License-Identifier: MIT
// asyncdev-bench: the results as a table, as JSON, and as a gnuplot chart.
#pragma once

#include "../json.h"
#include "bench.h"

#include <cstdio>
#include <string>
#include <vector>

namespace bench {

/// `label` (which comparison), the header lines and one row per model.
void print_table(const Options& o, const std::vector<Result>& rs, std::FILE* out,
                 const std::string& label);
/// The feeder comparison as one JSON document (what --json writes and
/// --plot-from reads).
std::string to_json(const Options& o, const std::vector<Result>& rs, const std::string& label);
/// The start of every JSON document: tool, comparison ("feeder" or
/// "same-device"), label, command, kernel, CPU, clocksource, up to the
/// first key of the comparison's own.
std::string json_head(const Options& o, const char* comparison, const std::string& label);
/// "config": {...},\n"results": [...] of `rs`, each line after the first
/// indented by `indent` (no trailing newline).
std::string json_results(const Options& o, const std::vector<Result>& rs, const char* indent);
/// Writes `js` to `path` ("-": stdout); exits with a message on failure.
void write_json(const char* path, const std::string& js);
/// gnuplot's PNG terminal ("pngcairo" or "png"); exits with a message if
/// there is none, or no gnuplot.
const char* gnuplot_terminal();
/// Runs gnuplot on `script`, which writes `out` with `term`; exits on failure.
void run_gnuplot(const std::string& script, const char* out, const char* term);
/// The chart of a same-device document (same_plot.cpp).
void plot_same_device(const tool::json::Value& doc, const char* out);
/// Draws the results of a to_json() document to the PNG `out` with
/// gnuplot; exits with a message if gnuplot or a PNG terminal is missing.
void plot(const tool::json::Value& doc, const char* out);

} // namespace bench
