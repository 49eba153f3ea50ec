// SPDX-License-Identifier: MIT
// asyncdev-trace: record the asyncdev tracepoints (driver/trace.h) while a
// command runs or for a while, then show where each request's time went:
// a per-request timeline, a latency breakdown table (queue wait, channel
// wait, service, completion), JSON and a gnuplot PNG.
//
// It reads the kernel's binary ring buffer through libtracefs (its own
// tracefs instance, so other tracing users are not disturbed) and decodes
// the events with libtraceevent from their format files.
#include "common.h"
#include "json.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <getopt.h>
#include <sys/wait.h>
#include <unistd.h>

#include "trace_capture.h"

using tool::fail;
using tool::usage_error;

namespace {

void usage()
{
    std::printf(
        "Usage: %s [OPTIONS] [-- COMMAND [ARG...]]\n"
        "Record the asyncdev tracepoints while COMMAND runs (or for --duration),\n"
        "then print one line per request with where its time went, and a latency\n"
        "breakdown per node, path and direction:\n"
        "  queue       submission -> handed to the engine (FIFO wait, data copy)\n"
        "  chan        handed to the engine -> a channel is free (channel wait)\n"
        "  service     the service time (latency + jitter) on a channel\n"
        "  completion  end of service -> the result is delivered (ki_complete, or\n"
        "              read/write returning; a synchronous FIFO caller waits for\n"
        "              data here, after its service time)\n"
        "Requests that never reach the engine (no latency set) count everything\n"
        "as queue. Needs root (tracefs) and the asyncdev module loaded.\n"
        "\n"
        "Options:\n"
        "  -d, --duration SEC   without COMMAND: record for SEC seconds (default 5;\n"
        "                       SIGINT or SIGTERM stops early, a second one at once)\n"
        "  -n, --requests N     request lines to print (default 50; 0: none)\n"
        "  -v, --events         print every event of each printed request\n"
        "  -j, --json FILE      write the requests and the breakdown as JSON ('-': stdout)\n"
        "  -p, --plot FILE.png  gnuplot chart of each request's phases\n"
        "      --plot-from FILE read a --json file instead of recording (with --plot)\n"
        "  -P, --path LIST      only requests of these paths: sync, io_submit,\n"
        "                       io_uring, io-wq (comma-separated)\n"
        "  -N, --node NODE      only requests of this node: fifo or mem\n"
        "  -b, --buffer-kb KB   ring buffer per CPU (default 16384)\n"
        "  -q, --quiet          no request lines, only the breakdown\n"
        "  -h, --help           this help\n"
        "  -V, --version        version\n"
        "\n"
        "Exit status:\n"
        "  0 success, 1 failure (or COMMAND failed), 2 usage error.\n"
        "\n"
        "Examples:\n"
        "  $ %s -- asyncdev-bench --batch 16 --latency-ns 2ms\n"
        "  $ %s --duration 10 --json trace.json --plot trace.png\n",
        tool::prog, tool::prog, tool::prog);
}

// ---- the events, decoded ----

struct Event {
    unsigned long long ts = 0;   // trace clock "mono": CLOCK_MONOTONIC ns
    std::string name;            // without the "asyncdev_" prefix
    int pid = 0;                 // common_pid: the task the event ran in
    std::map<std::string, long long> f;
    long long get(const std::string& k) const
    {
        auto it = f.find(k);
        return it == f.end() ? 0 : it->second;
    }
};

const char* node_name(long long n) { return n == ASYNCDEV_NODE_FIFO ? "fifo" : n == ASYNCDEV_NODE_MEM ? "mem" : "?"; }
const char* path_name(long long p)
{
    static const char* const names[] = {"sync", "io_submit", "io_uring", "io-wq"};
    return p >= 0 && p < 4 ? names[p] : "?";
}

struct Collector {
    std::vector<Event> events;
    long long missed = 0;
};

void on_event(void* ctx, const adev_trace_event* ev)
{
    auto* c = static_cast<Collector*>(ctx);
    c->missed += ev->missed;
    Event e;
    e.ts = ev->ts;
    e.name = ev->name;
    e.pid = ev->pid;
    for (int i = 0; i < ev->nfields; i++)
        if (std::strncmp(ev->keys[i], "common_", 7))
            e.f[ev->keys[i]] = ev->vals[i];
    c->events.push_back(std::move(e));
}

// ---- requests ----

struct Request {
    long long id = 0;
    int pid = 0;
    std::string node, path, rw;
    long long bytes = 0, pos = 0, res = 0;
    bool finished = false, cancelled = false, fault = false;
    unsigned long long t_submit = 0, t_engine = 0, t_start = 0, t_end = 0, t_fin = 0;
    std::vector<std::pair<unsigned long long, std::string>> events;

    long long queue() const { return t_engine ? t_engine - t_submit : t_fin - t_submit; }
    long long chan() const { return t_engine && t_start ? t_start - t_engine : 0; }
    long long service() const { return t_start && t_end ? t_end - t_start : 0; }
    long long completion() const
    {
        if (t_end)
            return t_fin - t_end;
        return t_engine ? t_fin - t_engine : 0;
    }
    long long total() const { return t_fin - t_submit; }
};

std::string describe(const Event& e)
{
    std::ostringstream o;
    o << e.name;
    static const char* const states[] = {"submitting", "queued", "active", "engine"};
    for (const auto& [k, v] : e.f) {
        if (k.rfind("common_", 0) == 0 || k == "id" || k == "node" || k == "write")
            continue;
        o << ' ' << k << '=';
        if (k == "path")
            o << path_name(v);
        else if (k == "state" && v >= 0 && v < 4)
            o << states[v];
        else if (k == "band")
            o << (v == POLL_IN ? "POLL_IN" : v == POLL_OUT ? "POLL_OUT" : std::to_string(v));
        else
            o << v;
    }
    return o.str();
}

struct Model {
    std::vector<Request> reqs;  // in submission order
    std::map<std::string, long long> counts;  // sigio, produce, overrun, fault, cancel
    unsigned long long t0 = 0;
};

Model build(std::vector<Event>& events)
{
    Model m;
    std::stable_sort(events.begin(), events.end(),
                     [](const Event& a, const Event& b) { return a.ts < b.ts; });
    std::map<long long, size_t> by_id;
    std::map<int, size_t> open_sync;  // pid -> its request inside read/write
    auto find = [&](const Event& e) -> Request* {
        long long id = e.get("id");
        if (id) {
            auto it = by_id.find(id);
            return it == by_id.end() ? nullptr : &m.reqs[it->second];
        }
        auto it = open_sync.find(e.pid);
        return it == open_sync.end() ? nullptr : &m.reqs[it->second];
    };
    if (!events.empty())
        m.t0 = events.front().ts;
    for (const Event& e : events) {
        m.counts[e.name]++;
        if (e.name == "submit") {
            Request r;
            r.id = e.get("id");
            r.pid = e.pid;
            r.node = node_name(e.get("node"));
            r.path = path_name(e.get("path"));
            r.rw = e.get("write") ? "write" : "read";
            r.bytes = e.get("bytes");
            r.pos = e.get("pos");
            r.t_submit = e.ts;
            r.events.emplace_back(e.ts, describe(e));
            by_id[r.id] = m.reqs.size();
            open_sync[e.pid] = m.reqs.size();
            m.reqs.push_back(std::move(r));
            continue;
        }
        Request* r = find(e);
        if (!r || r->finished)
            continue;
        r->events.emplace_back(e.ts, describe(e));
        if (e.name == "engine" && !r->t_engine)
            r->t_engine = e.ts;
        else if (e.name == "service_start")
            r->t_start = e.ts;
        else if (e.name == "service_end" && e.get("in_service"))
            r->t_end = e.ts;
        else if (e.name == "cancel")
            r->cancelled = true;
        else if (e.name == "done" || e.name == "complete" || e.name == "fault") {
            r->finished = true;
            r->t_fin = e.ts;
            r->res = e.name == "fault" ? e.get("error") : e.get("res");
            r->fault = e.name == "fault";
            if (e.name == "complete")
                r->cancelled = e.get("cancelled");
            if (open_sync.count(r->pid) && &m.reqs[open_sync[r->pid]] == r)
                open_sync.erase(r->pid);
        }
        // A request queued by io_submit or io_uring has left read_iter.
        if (e.name == "fifo_queue" || (e.name == "engine" && e.get("id")))
            if (open_sync.count(r->pid) && &m.reqs[open_sync[r->pid]] == r)
                open_sync.erase(r->pid);
    }
    return m;
}

double us(long long ns) { return static_cast<double>(ns) / 1000.0; }

struct Group {
    std::string key;
    std::vector<std::uint64_t> q, c, s, f, t;
};

std::vector<Group> groups(const Model& m)
{
    std::map<std::string, Group> g;
    for (const Request& r : m.reqs) {
        if (!r.finished)
            continue;
        Group& x = g[r.node + " " + r.path + " " + r.rw];
        x.key = r.node + " " + r.path + " " + r.rw;
        x.q.push_back(r.queue());
        x.c.push_back(r.chan());
        x.s.push_back(r.service());
        x.f.push_back(r.completion());
        x.t.push_back(r.total());
    }
    std::vector<Group> out;
    for (auto& [k, v] : g) {
        for (auto* vec : {&v.q, &v.c, &v.s, &v.f, &v.t})
            std::sort(vec->begin(), vec->end());
        out.push_back(std::move(v));
    }
    return out;
}

void print_text(const Model& m, long long max_lines, bool verbose, long long missed)
{
    size_t done = std::count_if(m.reqs.begin(), m.reqs.end(), [](const Request& r) { return r.finished; });
    long long nev = 0;
    for (const auto& [k, v] : m.counts)
        nev += v;
    std::printf("asyncdev-trace: %lld events, %zu requests (%zu finished)", nev, m.reqs.size(), done);
    for (const char* k : {"sigio", "produce", "overrun", "fault", "cancel"})
        if (m.counts.count(k))
            std::printf(", %lld %s", m.counts.at(k), k);
    if (missed)
        std::printf(", %lld events LOST (--buffer-kb)", missed);
    std::printf("\n");
    if (max_lines > 0 && !m.reqs.empty()) {
        std::printf("\n%6s %-4s %-9s %-5s %7s %6s %9s %9s %9s %9s %9s %9s %7s\n", "id", "node", "path", "rw",
                    "bytes", "pid", "start_ms", "queue_us", "chan_us", "svc_us", "compl_us", "total_us", "res");
        long long n = 0;
        for (const Request& r : m.reqs) {
            if (n++ == max_lines) {
                std::printf("... %zu more\n", m.reqs.size() - static_cast<size_t>(max_lines));
                break;
            }
            std::printf("%6lld %-4s %-9s %-5s %7lld %6d %9.3f ", r.id, r.node.c_str(), r.path.c_str(),
                        r.rw.c_str(), r.bytes, r.pid, us(r.t_submit - m.t0) / 1000.0);
            if (r.finished)
                std::printf("%9.1f %9.1f %9.1f %9.1f %9.1f %7lld%s%s\n", us(r.queue()), us(r.chan()),
                            us(r.service()), us(r.completion()), us(r.total()), r.res,
                            r.cancelled ? " cancelled" : "", r.fault ? " fault" : "");
            else
                std::printf("%9s %9s %9s %9s %9s %7s\n", "-", "-", "-", "-", "-", "pending");
            if (verbose)
                for (const auto& [ts, what] : r.events)
                    std::printf("         +%10.1f us  %s\n", us(ts - r.t_submit), what.c_str());
        }
    }
    auto gs = groups(m);
    if (gs.empty())
        return;
    std::printf("\nLatency breakdown (us, p50 / p99 of finished requests)\n");
    std::printf("%-24s %6s %17s %17s %17s %17s %17s\n", "node path rw", "n", "queue", "chan", "service",
                "completion", "total");
    for (Group& g : gs) {
        auto col = [](std::vector<std::uint64_t>& v) {
            char b[40];
            std::snprintf(b, sizeof(b), "%.1f / %.1f", us(tool::percentile_sorted(v, 50)),
                          us(tool::percentile_sorted(v, 99)));
            return std::string(b);
        };
        std::printf("%-24s %6zu %17s %17s %17s %17s %17s\n", g.key.c_str(), g.t.size(), col(g.q).c_str(),
                    col(g.c).c_str(), col(g.s).c_str(), col(g.f).c_str(), col(g.t).c_str());
    }
}

void write_json(const Model& m, long long missed, std::FILE* out)
{
    std::fprintf(out, "{\n  \"tool\": \"asyncdev-trace\",\n  \"lost_events\": %lld,\n  \"counts\": {", missed);
    bool first = true;
    for (const auto& [k, v] : m.counts) {
        std::fprintf(out, "%s\"%s\": %lld", first ? "" : ", ", k.c_str(), v);
        first = false;
    }
    std::fprintf(out, "},\n  \"requests\": [");
    first = true;
    for (const Request& r : m.reqs) {
        std::fprintf(out,
                     "%s\n    {\"id\": %lld, \"node\": \"%s\", \"path\": \"%s\", \"rw\": \"%s\", \"bytes\": %lld, "
                     "\"pos\": %lld, \"pid\": %d, \"start_ns\": %llu, \"finished\": %s",
                     first ? "" : ",", r.id, r.node.c_str(), r.path.c_str(), r.rw.c_str(), r.bytes, r.pos,
                     r.pid, r.t_submit - m.t0, r.finished ? "true" : "false");
        if (r.finished)
            std::fprintf(out,
                         ", \"res\": %lld, \"cancelled\": %s, \"fault\": %s, \"queue_ns\": %lld, \"chan_ns\": %lld, "
                         "\"service_ns\": %lld, \"completion_ns\": %lld, \"total_ns\": %lld",
                         r.res, r.cancelled ? "true" : "false", r.fault ? "true" : "false", r.queue(), r.chan(),
                         r.service(), r.completion(), r.total());
        std::fprintf(out, ", \"events\": [");
        for (size_t i = 0; i < r.events.size(); i++)
            std::fprintf(out, "%s{\"t_ns\": %llu, \"event\": \"%s\"}", i ? ", " : "",
                         r.events[i].first - r.t_submit, tool::json_escape(r.events[i].second).c_str());
        std::fprintf(out, "]}");
        first = false;
    }
    std::fprintf(out, "\n  ],\n  \"breakdown\": [");
    auto gs = groups(m);
    for (size_t i = 0; i < gs.size(); i++) {
        Group& g = gs[i];
        std::fprintf(out, "%s\n    {\"group\": \"%s\", \"n\": %zu", i ? "," : "", g.key.c_str(), g.t.size());
        const std::pair<const char*, std::vector<std::uint64_t>*> cols[] = {
            {"queue", &g.q}, {"chan", &g.c}, {"service", &g.s}, {"completion", &g.f}, {"total", &g.t}};
        for (const auto& [name, v] : cols)
            std::fprintf(out, ", \"%s_p50_ns\": %llu, \"%s_p99_ns\": %llu", name,
                         static_cast<unsigned long long>(tool::percentile_sorted(*v, 50)), name,
                         static_cast<unsigned long long>(tool::percentile_sorted(*v, 99)));
        std::fprintf(out, "}");
    }
    std::fprintf(out, "\n  ]\n}\n");
}

// One stacked bar per request (in submission order): its four phases.
struct PlotRow {
    long long id;
    double q, c, s, f;
};

void plot(const std::vector<PlotRow>& rows, const std::string& png)
{
    if (rows.empty())
        fail("--plot: no finished request to plot");
    char dir[] = "/tmp/asyncdev-trace.XXXXXX";
    if (!mkdtemp(dir))
        fail("mkdtemp: %s", std::strerror(errno));
    std::string dat = std::string(dir) + "/phases.dat", gp = std::string(dir) + "/plot.gp";
    {
        std::ofstream d(dat);
        d << "id queue chan service completion\n";
        for (const PlotRow& r : rows)
            d << r.id << ' ' << r.q << ' ' << r.c << ' ' << r.s << ' ' << r.f << '\n';
        std::ofstream g(gp);
        g << "set terminal pngcairo size 1000,600 noenhanced\n"
          << "set output '" << png << "'\n"
          << "set title 'asyncdev: where each request spent its time'\n"
          << "set ylabel 'microseconds'\nset xlabel 'request id (submission order)'\n"
          << "set style data histograms\nset style histogram rowstacked\nset style fill solid 0.8 border -1\n"
          << "set boxwidth 0.8\nset key outside right top\nset grid y\nset xtics rotate by -45\n"
          << "plot '" << dat << "' using 2:xtic(1) title columnheader(2), '' using 3 title columnheader(3), "
          << "'' using 4 title columnheader(4), '' using 5 title columnheader(5)\n";
    }
    std::string cmd = "gnuplot '" + gp + "' 2>&1";
    int rc = std::system(cmd.c_str());
    std::remove(dat.c_str());
    std::remove(gp.c_str());
    rmdir(dir);
    if (rc != 0)
        fail("gnuplot failed (exit %d): is gnuplot installed?", WIFEXITED(rc) ? WEXITSTATUS(rc) : rc);
    std::fprintf(stderr, "%s: wrote %s\n", tool::prog, png.c_str());
}

std::vector<PlotRow> plot_rows(const Model& m)
{
    std::vector<PlotRow> rows;
    for (const Request& r : m.reqs)
        if (r.finished)
            rows.push_back({r.id, us(r.queue()), us(r.chan()), us(r.service()), us(r.completion())});
    return rows;
}

std::vector<PlotRow> plot_rows_from(const std::string& file)
{
    std::ifstream in(file);
    if (!in)
        fail("cannot read %s: %s", file.c_str(), std::strerror(errno));
    std::stringstream ss;
    ss << in.rdbuf();
    tool::json::Value v;
    try {
        v = tool::json::parse(ss.str());
    } catch (const std::exception& e) {
        fail("%s: %s", file.c_str(), e.what());
    }
    const tool::json::Value* reqs = v.get("requests");
    if (!reqs || reqs->type != tool::json::Value::Type::array)
        fail("%s: no \"requests\" array (not an asyncdev-trace --json file?)", file.c_str());
    std::vector<PlotRow> rows;
    for (const auto& r : reqs->arr) {
        const tool::json::Value* fin = r.get("finished");
        if (!fin || !fin->b)
            continue;
        rows.push_back({static_cast<long long>(r.number("id")), r.number("queue_ns") / 1e3,
                        r.number("chan_ns") / 1e3, r.number("service_ns") / 1e3,
                        r.number("completion_ns") / 1e3});
    }
    return rows;
}

// The first SIGINT or SIGTERM ends the recording (the report follows);
// a second one ends the program at once, as the default action would, so
// that a read of the trace buffer that does not return (its system calls
// restart after this handler) cannot outlive a caller's SIGTERM and
// SIGKILL-less timeout. signal() and raise() are async-signal-safe.
volatile sig_atomic_t stop_flag = 0;
void on_sigint(int sig)
{
    if (stop_flag) {
        std::signal(sig, SIG_DFL);
        std::raise(sig);
        return;
    }
    stop_flag = 1;
}

// The tracefs instance, removed again on every exit path.
struct Capture {
    ~Capture() { adev_trace_close(); }
};

} // namespace

int main(int argc, char** argv)
{
    tool::prog = "asyncdev-trace";
    enum { opt_plot_from = 1000 };
    static const option longopts[] = {
        {"duration", required_argument, nullptr, 'd'}, {"requests", required_argument, nullptr, 'n'},
        {"events", no_argument, nullptr, 'v'},         {"json", required_argument, nullptr, 'j'},
        {"plot", required_argument, nullptr, 'p'},     {"plot-from", required_argument, nullptr, opt_plot_from},
        {"buffer-kb", required_argument, nullptr, 'b'}, {"quiet", no_argument, nullptr, 'q'},
        {"path", required_argument, nullptr, 'P'},     {"node", required_argument, nullptr, 'N'},
        {"help", no_argument, nullptr, 'h'},           {"version", no_argument, nullptr, 'V'},
        {nullptr, 0, nullptr, 0}};
    double duration = 5;
    std::uint64_t max_lines = 50, buffer_kb = 16384;
    bool verbose = false, quiet = false, duration_set = false;
    std::string json, png, plot_from, node;
    std::vector<std::string> paths;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+:d:n:vj:p:b:qP:N:hV", longopts, nullptr)) != -1) {
        switch (c) {
        case 'd':
            if (!tool::parse_double(optarg, duration) || duration <= 0 || duration > 86400)
                usage_error("--duration: '%s' is not a number of seconds in (0, 86400]", optarg);
            duration_set = true;
            break;
        case 'n':
            if (!tool::parse_u64(optarg, max_lines))
                usage_error("--requests: '%s' is not a count", optarg);
            break;
        case 'v': verbose = true; break;
        case 'j': json = optarg; break;
        case 'p': png = optarg; break;
        case opt_plot_from: plot_from = optarg; break;
        case 'b':
            if (!tool::parse_u64(optarg, buffer_kb) || buffer_kb < 64 || buffer_kb > (1u << 22))
                usage_error("--buffer-kb: '%s' is not in 64..4194304", optarg);
            break;
        case 'q': quiet = true; break;
        case 'P': {
            std::string bad;
            if (!tool::parse_name_list(optarg, {"sync", "io_submit", "io_uring", "io-wq"}, paths, bad))
                usage_error("--path: unknown path '%s' (sync, io_submit, io_uring, io-wq)", bad.c_str());
            break;
        }
        case 'N':
            node = optarg;
            if (node != "fifo" && node != "mem")
                usage_error("--node: '%s' is neither fifo nor mem", optarg);
            break;
        case 'h': usage(); return tool::exit_ok;
        case 'V': tool::print_version(); return tool::exit_ok;
        case ':': usage_error("option '%s' needs a value", argv[optind - 1]);
        default: usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    char** cmd = optind < argc ? argv + optind : nullptr;
    if (!plot_from.empty()) {
        if (png.empty() || cmd || duration_set || !json.empty())
            usage_error("--plot-from FILE goes with --plot PNG only");
        plot(plot_rows_from(plot_from), png);
        return tool::exit_ok;
    }
    if (cmd && duration_set)
        usage_error("--duration and a COMMAND exclude each other");

    Capture capture;
    char err[256];
    if (adev_trace_open(buffer_kb, err, sizeof(err)))
        fail("%s", err);
    std::signal(SIGINT, on_sigint);
    std::signal(SIGTERM, on_sigint);
    if (adev_trace_on() < 0)
        fail("cannot turn tracing on: %s", std::strerror(errno));

    int status = 0;
    if (cmd) {
        pid_t pid = fork();
        if (pid < 0)
            fail("fork: %s", std::strerror(errno));
        if (pid == 0) {
            std::signal(SIGINT, SIG_DFL);
            std::signal(SIGTERM, SIG_DFL);
            execvp(cmd[0], cmd);
            std::fprintf(stderr, "%s: cannot run %s: %s\n", tool::prog, cmd[0], std::strerror(errno));
            _exit(127);
        }
        while (waitpid(pid, &status, 0) < 0)
            if (errno != EINTR)
                fail("waitpid: %s", std::strerror(errno));
    } else {
        std::uint64_t end = tool::now_ns() + static_cast<std::uint64_t>(duration * 1e9);
        while (!stop_flag && tool::now_ns() < end)
            usleep(10000);
    }
    adev_trace_off();
    Collector col;
    if (adev_trace_read(on_event, &col))
        fail("cannot read the trace buffer");
    Model m = build(col.events);
    std::erase_if(m.reqs, [&](const Request& r) {
        return (!paths.empty() && std::find(paths.begin(), paths.end(), r.path) == paths.end()) ||
               (!node.empty() && r.node != node);
    });

    print_text(m, quiet ? 0 : static_cast<long long>(max_lines), verbose && !quiet, col.missed);
    if (!json.empty()) {
        std::FILE* out = json == "-" ? stdout : std::fopen(json.c_str(), "w");
        if (!out)
            fail("cannot write %s: %s", json.c_str(), std::strerror(errno));
        write_json(m, col.missed, out);
        if (out != stdout && std::fclose(out))
            fail("cannot write %s: %s", json.c_str(), std::strerror(errno));
    }
    if (!png.empty())
        plot(plot_rows(m), png);
    if (cmd && (!WIFEXITED(status) || WEXITSTATUS(status))) {
        tool::warn("%s exited with status %d", cmd[0], WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        return tool::exit_fail;
    }
    return tool::exit_ok;
}
