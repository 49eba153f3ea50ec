// SPDX-License-Identifier: MIT
// asyncdev-bench: the chart of --same-device (from its JSON): the FIFO part
// on the top row, the /dev/asyncmem part below.
#include "report.h"

#include <cstdio>
#include <sstream>

namespace bench {

void plot_same_device(const tool::json::Value& doc, const char* out)
{
    using tool::json::Value;
    const Value* fifo = doc.get("fifo");
    const Value* mem = doc.get("mem");
    const Value* fifo_rs = fifo ? fifo->get("results") : nullptr;
    const Value* mem_rs = mem ? mem->get("results") : nullptr;
    if ((!fifo_rs || fifo_rs->type != Value::Type::array) &&
        (!mem_rs || mem_rs->type != Value::Type::array))
        fail("plot: the same-device JSON has neither \"fifo\" nor \"mem\" results");
    auto ran = [](const Value& r) { return r.type == Value::Type::object && r.get("ran") && r.get("ran")->b; };
    std::ostringstream fd, md;
    int fifo_rows = 0, mem_rows = 0;
    if (fifo_rs && fifo_rs->type == Value::Type::array)
        for (const Value& r : fifo_rs->arr) {
            if (!ran(r))
                continue;
            fd << '"' << r.string("model") << "\\n" << r.number("overruns") << " lost\" "
               << r.number("lat_p50_us") << ' ' << r.number("lat_p99_us") << ' '
               << r.number("cpu_us_per_record") << ' ' << r.number("all_cpu_us_per_record") << ' '
               << r.number("ctxsw_per_record") << '\n';
            ++fifo_rows;
        }
    if (mem_rs && mem_rs->type == Value::Type::array)
        for (const Value& r : mem_rs->arr) {
            if (!ran(r))
                continue;
            md << '"' << r.string("model") << "\" " << r.number("ops_per_s") << ' '
               << r.number("lat_p50_us") << ' ' << r.number("lat_p99_us") << ' '
               << r.number("cpu_us_per_op") << '\n';
            ++mem_rows;
        }
    if (!fifo_rows && !mem_rows)
        fail("plot: no model ran in the JSON");
    const char* term = gnuplot_terminal();
    const int rows = (fifo_rows ? 1 : 0) + (mem_rows ? 1 : 0);
    char title[512];
    std::snprintf(title, sizeof title,
                  "asyncdev-bench --same-device: every model on one node at a time\\nkernel %s, "
                  "%.0f CPUs (%s), clocksource %s",
                  doc.string("kernel", "?").c_str(), doc.number("cpus"),
                  tool::json_escape(doc.string("cpu_model", "?")).c_str(),
                  doc.string("clocksource", "?").c_str());
    std::ostringstream g;
    g << "set terminal " << term << " size 1800," << (rows == 2 ? 1100 : 600)
      << (std::string(term) == "pngcairo" ? " font 'sans,10'" : "") << "\nset output '" << out
      << "'\n";
    if (fifo_rows)
        g << "$f << EOD\n" << fd.str() << "EOD\n";
    if (mem_rows)
        g << "$m << EOD\n" << md.str() << "EOD\n";
    g << "set multiplot layout " << rows << ",3 title \"" << title << "\"\n"
      << "set style data histograms\nset style histogram clustered gap 1\n"
      << "set style fill solid 0.85 border -1\nset boxwidth 0.9\nset grid ytics\n"
      << "set xtics nomirror\nset yrange [0:*]\nset key top left\n"
      << "set bmargin 5\nset offsets 0, 0, graph 0.12, 0\n";
    if (fifo_rows) {
        const std::string label = tool::json_escape(fifo->string("label"));
        g << "set title \"" << label << "\\nlatency, record timestamp to data in hand\"\n"
          << "set ylabel 'microseconds (log)'\nset logscale y\nset yrange [1:*]\n"
          << "plot $f using 2:xtic(1) title 'p50' lc rgb '#60a060', '' using 3 title 'p99' lc "
             "rgb '#d08030'\n"
          << "unset logscale y\nset yrange [0:*]\n"
          << "set title 'CPU time per record (user+sys)'\nset ylabel 'microseconds'\n"
          << "plot $f using 4:xtic(1) title 'this process' lc rgb '#a04040', '' using 5 title "
             "'whole machine' lc rgb '#d0a0a0'\n"
          << "set title 'Context switches per record'\nset ylabel 'switches/record'\n"
          << "plot $f using 6:xtic(1) title 'csw/record' lc rgb '#7050a0'\n";
    }
    if (mem_rows) {
        const std::string label = tool::json_escape(mem->string("label"));
        g << "set title \"" << label << "\\nthroughput\"\nset ylabel 'ops/s'\n"
          << "plot $m using 2:xtic(1) title 'ops/s' lc rgb '#3070b0'\n"
          << "set title 'Latency, issue to data'\nset ylabel 'microseconds (log)'\n"
          << "set logscale y\nset yrange [1:*]\n"
          << "plot $m using 3:xtic(1) title 'p50' lc rgb '#60a060', '' using 4 title 'p99' lc "
             "rgb '#d08030'\n"
          << "unset logscale y\nset yrange [0:*]\n"
          << "set title 'CPU time per operation (user+sys, all threads)'\n"
             "set ylabel 'microseconds'\n"
          << "plot $m using 5:xtic(1) title 'CPU us/op' lc rgb '#a04040'\n";
    }
    g << "unset multiplot\n";
    run_gnuplot(g.str(), out, term);
}

} // namespace bench
