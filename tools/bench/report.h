// SPDX-License-Identifier: MIT
// asyncdev-bench: the results as a table, as JSON, and as a gnuplot chart.
#pragma once

#include "../json.h"
#include "bench.h"

#include <cstdio>
#include <string>
#include <vector>

namespace bench {

/// The header lines and one row per model.
void print_table(const Options& o, const std::vector<Result>& rs, std::FILE* out);
/// The run as one JSON document (what --json writes and --plot-from reads).
std::string to_json(const Options& o, const std::vector<Result>& rs);
/// Writes `js` to `path` ("-": stdout); exits with a message on failure.
void write_json(const char* path, const std::string& js);
/// Draws the results of a to_json() document to the PNG `out` with
/// gnuplot; exits with a message if gnuplot or a PNG terminal is missing.
void plot(const tool::json::Value& doc, const char* out);

} // namespace bench
