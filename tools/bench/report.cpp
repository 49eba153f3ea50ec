// SPDX-License-Identifier: MIT
// asyncdev-bench: the table, the JSON and the chart.
#include "report.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <thread>

#include <sys/utsname.h>
#include <sys/wait.h>

namespace bench {

void print_table(const Options& o, const std::vector<Result>& rs, std::FILE* out,
                 const std::string& label)
{
    std::fprintf(out, "%s\n", label.c_str());
    if (o.dist)
        std::fprintf(out, "service time distribution: %s (base %.1f us)\n", o.dist_text.c_str(),
                     static_cast<double>(o.latency_ns) / 1e3);
    std::fprintf(out,
                 "depth %llu, size %llu B, latency %.1f us, jitter %.1f us, channels %llu, "
                 "%llu ops per model after %llu warm-up, clocksource %s\n",
                 static_cast<unsigned long long>(o.depth), static_cast<unsigned long long>(o.size),
                 static_cast<double>(o.latency_ns) / 1e3, static_cast<double>(o.jitter_ns) / 1e3,
                 static_cast<unsigned long long>(o.channels),
                 static_cast<unsigned long long>(o.ops), static_cast<unsigned long long>(o.warmup),
                 clocksource().c_str());
    std::fprintf(out, "%-10s %-14s %7s %9s %8s %9s %9s %9s %9s %7s %-8s %s\n", "model", "node", "ops",
                 "ops/s", "MiB/s", "p50(us)", "p99(us)", "p999(us)", "cpu(us)/op", "csw/op",
                 "verified", "notes");
    for (const Result& r : rs) {
        if (!r.ran) {
            std::fprintf(out, "%-10s %-14s %s\n", r.model.c_str(), r.node.c_str(),
                         ((r.applicable ? "not run: " : "not applicable: ") + r.error).c_str());
            continue;
        }
        std::string verified = r.io_errors || r.bad_data
                                   ? "NO(" + std::to_string(r.io_errors) + "e," +
                                         std::to_string(r.bad_data) + "b)"
                                   : "yes";
        std::fprintf(out, "%-10s %-14s %7llu %9.0f %8.2f %9.1f %9.1f %9.1f %10.1f %7.2f %-8s %s\n",
                     r.model.c_str(), r.node.c_str(), static_cast<unsigned long long>(r.ops),
                     r.ops_per_s, r.mib_per_s, r.p50_us, r.p99_us, r.p999_us, r.cpu_us_per_op,
                     r.ctxsw_per_op, verified.c_str(), r.notes.c_str());
    }
}

std::string json_head(const Options& o, const char* comparison, const std::string& label)
{
    utsname u{};
    ::uname(&u);
    std::ostringstream j;
    j << "{\n  \"tool\": \"asyncdev-bench\",\n  \"comparison\": \"" << comparison
      << "\",\n  \"label\": \"" << tool::json_escape(label) << "\",\n  \"command\": \""
      << tool::json_escape(o.command) << "\",\n  \"kernel\": \"" << tool::json_escape(u.release)
      << "\",\n  \"cpu_model\": \"" << tool::json_escape(cpu_model())
      << "\",\n  \"clocksource\": \"" << tool::json_escape(clocksource())
      << "\",\n  \"cpus\": " << std::thread::hardware_concurrency() << ",\n";
    return j.str();
}

std::string json_results(const Options& o, const std::vector<Result>& rs, const char* indent)
{
    std::ostringstream j;
    auto num = [](double v) { return fmt("%.6g", v); };
    j << indent << "\"config\": {\"depth\": " << o.depth
      << ", \"size\": " << o.size << ", \"latency_ns\": " << o.latency_ns
      << ", \"jitter_ns\": " << o.jitter_ns << ", \"dist\": \"" << tool::json_escape(o.dist_text)
      << "\", \"channels\": " << o.channels
      << ", \"ops\": " << o.ops << ", \"warmup_ops\": " << o.warmup
      << ", \"max_time_s\": " << num(o.max_time) << "},\n" << indent << "\"results\": [";
    for (std::size_t i = 0; i < rs.size(); ++i) {
        const Result& r = rs[i];
        j << (i ? ",\n" : "\n") << indent << "  {\"model\": \"" << r.model << "\", \"node\": \""
          << tool::json_escape(r.node) << "\", \"ran\": " << (r.ran ? "true" : "false");
        if (!r.ran) {
            if (!r.applicable)
                j << ", \"applicable\": false";
            j << ", \"error\": \"" << tool::json_escape(r.error) << "\"}";
            continue;
        }
        j << ", \"ops\": " << r.ops << ", \"bytes\": " << r.bytes
          << ", \"seconds\": " << num(r.seconds) << ", \"ops_per_s\": " << num(r.ops_per_s)
          << ", \"mib_per_s\": " << num(r.mib_per_s) << ", \"lat_p50_us\": " << num(r.p50_us)
          << ", \"lat_p99_us\": " << num(r.p99_us) << ", \"lat_p999_us\": " << num(r.p999_us)
          << ", \"cpu_us_per_op\": " << num(r.cpu_us_per_op)
          << ", \"ctxsw_per_op\": " << num(r.ctxsw_per_op) << ", \"io_errors\": " << r.io_errors
          << ", \"bad_data\": " << r.bad_data
          << ", \"verified\": " << (r.io_errors || r.bad_data ? "false" : "true")
          << ", \"notes\": \"" << tool::json_escape(r.notes) << "\"}";
    }
    j << "\n" << indent << "]";
    return j.str();
}

std::string to_json(const Options& o, const std::vector<Result>& rs, const std::string& label)
{
    return json_head(o, "feeder", label) + json_results(o, rs, "  ") + "\n}\n";
}

void write_json(const char* path, const std::string& js)
{
    if (std::strcmp(path, "-") == 0) {
        std::fputs(js.c_str(), stdout);
    } else {
        std::FILE* f = std::fopen(path, "w");
        if (!f || std::fputs(js.c_str(), f) < 0 || std::fclose(f) != 0)
            fail("write %s: %s", path, std::strerror(errno));
    }
}

// ---------------------------------------------------------------- plotting

namespace {

bool gnuplot_has(const char* terminal)
{
    const std::string cmd =
        std::string("echo 'set terminal ") + terminal + "' | gnuplot >/dev/null 2>&1";
    return std::system(cmd.c_str()) == 0;
}

} // namespace

const char* gnuplot_terminal()
{
    if (std::system("command -v gnuplot >/dev/null 2>&1") != 0)
        fail("plot: gnuplot: not found (install gnuplot-nox)");
    const char* term = gnuplot_has("pngcairo") ? "pngcairo" : gnuplot_has("png") ? "png" : nullptr;
    if (!term)
        fail("plot: gnuplot has neither the pngcairo nor the png terminal");
    return term;
}

void run_gnuplot(const std::string& script, const char* out, const char* term)
{
    std::FILE* p = ::popen("gnuplot", "w");
    if (!p)
        fail("plot: popen gnuplot: %s", std::strerror(errno));
    std::fwrite(script.data(), 1, script.size(), p);
    const int st = ::pclose(p);
    if (st != 0)
        fail("plot: gnuplot failed (exit status %d) writing %s", WEXITSTATUS(st), out);
    std::fprintf(stderr, "%s: wrote %s (gnuplot %s terminal)\n", tool::prog, out, term);
}

void plot(const tool::json::Value& doc, const char* out)
{
    using tool::json::Value;
    if (doc.string("comparison") == "same-device") {
        plot_same_device(doc, out);
        return;
    }
    const Value* results = doc.get("results");
    const Value* cfg = doc.get("config");
    if (!results || results->type != Value::Type::array || !cfg)
        fail("plot: the JSON has no \"results\" array or \"config\" (not from asyncdev-bench?)");
    const char* term = gnuplot_terminal();
    std::ostringstream data;
    int rows = 0;
    for (const Value& r : results->arr) {
        if (r.type != Value::Type::object || !r.get("ran") || !r.get("ran")->b)
            continue;
        const std::string node = r.string("node");
        const std::string base = node.substr(node.rfind('/') + 1);
        data << '"' << r.string("model") << "\\n" << base << "\" " << r.number("ops_per_s") << ' '
             << r.number("lat_p50_us") << ' ' << r.number("lat_p99_us") << ' '
             << r.number("cpu_us_per_op") << ' ' << r.number("ctxsw_per_op") << ' '
             << r.number("mib_per_s") << '\n';
        ++rows;
    }
    if (!rows)
        fail("plot: no model ran in the JSON");
    char title[768];
    std::snprintf(title, sizeof title,
                  "asyncdev-bench feeder comparison (not the same device): depth %.0f, %.0f B reads, latency %.0f us, %.0f channels, "
                  "%.0f ops/model\\nkernel %s, %.0f CPUs (%s), clocksource %s",
                  cfg->number("depth"), cfg->number("size"), cfg->number("latency_ns") / 1e3,
                  cfg->number("channels"), cfg->number("ops"), doc.string("kernel", "?").c_str(),
                  doc.number("cpus"), tool::json_escape(doc.string("cpu_model", "?")).c_str(),
                  doc.string("clocksource", "?").c_str());
    std::ostringstream g;
    g << "set terminal " << term << " size 1400,1000" << (std::strcmp(term, "pngcairo") == 0 ? " font 'sans,10'" : "")
      << "\nset output '" << out << "'\n"
      << "$d << EOD\n" << data.str() << "EOD\n"
      << "set multiplot layout 2,2 title \"" << title << "\"\n"
      << "set style data histograms\nset style histogram clustered gap 1\n"
      << "set style fill solid 0.85 border -1\nset boxwidth 0.9\nset grid ytics\n"
      << "set xtics rotate by -25 nomirror\nset yrange [0:*]\nset key top left\n"
      << "set bmargin 6\nset offsets 0, 0, graph 0.12, 0\n"
      << "set title 'Throughput (higher is better)'\nset ylabel 'ops/s'\n"
      << "plot $d using 2:xtic(1) title 'ops/s' lc rgb '#3070b0'\n"
      << "set title 'Latency, issue to data (lower is better)'\nset ylabel 'microseconds'\n"
      << "plot $d using 3:xtic(1) title 'p50' lc rgb '#60a060', '' using 4 title 'p99' lc rgb "
         "'#d08030'\n"
      << "set title 'CPU time per operation (user+sys, all threads)'\nset ylabel 'microseconds'\n"
      << "plot $d using 5:xtic(1) title 'CPU us/op' lc rgb '#a04040'\n"
      << "set title 'Context switches per operation (voluntary+involuntary)'\n"
         "set ylabel 'switches/op'\n"
      << "plot $d using 6:xtic(1) title 'csw/op' lc rgb '#7050a0'\n"
      << "unset multiplot\n";
    run_gnuplot(g.str(), out, term);
}

} // namespace bench
