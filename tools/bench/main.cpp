// SPDX-License-Identifier: MIT
// asyncdev-bench: the same reads, with the same device latency, through
// seven I/O models; throughput, latency percentiles, CPU time and context
// switches per operation. This file: the command line; the rest of
// tools/bench/ is listed in bench.h.
#include "batch.h"
#include "bench.h"
#include "model.h"
#include "report.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <system_error>

#include <getopt.h>

int main(int argc, char** argv)
{
    using namespace bench;
    tool::prog = "asyncdev-bench";
    enum { opt_mem = 1000, opt_fifo, opt_dist, opt_same, opt_rate, opt_duration };
    static const option longopts[] = {
        {"depth", required_argument, nullptr, 'D'},      {"size", required_argument, nullptr, 's'},
        {"latency-ns", required_argument, nullptr, 'l'}, {"jitter-ns", required_argument, nullptr, 'j'},
        {"channels", required_argument, nullptr, 'c'},   {"ops", required_argument, nullptr, 'n'},
        {"warmup-ops", required_argument, nullptr, 'w'}, {"max-time", required_argument, nullptr, 'T'},
        {"models", required_argument, nullptr, 'm'},     {"mem", required_argument, nullptr, opt_mem},
        {"fifo", required_argument, nullptr, opt_fifo},  {"json", required_argument, nullptr, 'o'},
        {"plot", required_argument, nullptr, 'p'},       {"plot-from", required_argument, nullptr, 'P'},
        {"batch", required_argument, nullptr, 'b'},      {"quiet", no_argument, nullptr, 'q'},
        {"help", no_argument, nullptr, 'h'},             {"version", no_argument, nullptr, 'V'},
        {"dist", required_argument, nullptr, opt_dist},  {"same-device", optional_argument, nullptr, opt_same},
        {"rate", required_argument, nullptr, opt_rate},  {"duration", required_argument, nullptr, opt_duration},
        {nullptr, 0, nullptr, 0}};
    Options o;
    bool latency_given = false, rate_given = false, duration_given = false;
    for (int i = 0; i < argc; ++i)
        o.command += (i ? " " : "") + std::string(i ? argv[i] : "asyncdev-bench");
    opterr = 0;
    int c;
    auto u64 = [](const char* name, const char* arg, std::uint64_t lo, std::uint64_t hi) {
        std::uint64_t v;
        if (!tool::parse_u64(arg, v) || v < lo || v > hi)
            usage_error("invalid %s '%s' (%llu..%llu)", name, arg,
                        static_cast<unsigned long long>(lo), static_cast<unsigned long long>(hi));
        return v;
    };
    while ((c = getopt_long(argc, argv, ":D:s:l:j:c:n:w:T:m:o:p:P:b:qhV", longopts, nullptr)) != -1) {
        switch (c) {
        case 'D': o.depth = u64("--depth", optarg, 1, 1024); break;
        case 's':
            if (!tool::parse_bytes(optarg, o.size) || o.size < 64 || o.size > (1u << 20))
                usage_error("invalid --size '%s' (64..1M bytes)", optarg);
            break;
        case 'l':
            if (!tool::parse_duration_ns(optarg, o.latency_ns) ||
                o.latency_ns > ASYNCDEV_MAX_LATENCY_NS)
                usage_error("invalid --latency-ns '%s' (0..1s)", optarg);
            latency_given = true;
            break;
        case 'j':
            if (!tool::parse_duration_ns(optarg, o.jitter_ns) ||
                o.jitter_ns > ASYNCDEV_MAX_JITTER_NS)
                usage_error("invalid --jitter-ns '%s' (0..1s)", optarg);
            break;
        case 'c': o.channels = u64("--channels", optarg, 1, ASYNCDEV_MAX_CHANNELS - 1); break;
        case 'n': o.ops = u64("--ops", optarg, 1, 100000000); break;
        case 'w': o.warmup = u64("--warmup-ops", optarg, 0, 100000000); break;
        case 'T':
            if (!tool::parse_double(optarg, o.max_time) || o.max_time <= 0)
                usage_error("invalid --max-time '%s' (seconds > 0)", optarg);
            break;
        case 'm': {
            std::string bad;
            if (!tool::parse_name_list(optarg, model_names(), o.models, bad))
                usage_error("unknown model '%s' in --models (blocking, nonblock, epoll, "
                            "sigio, posix-aio, libaio, uring, all)",
                            bad.c_str());
            break;
        }
        case opt_mem: o.mem = optarg; break;
        case opt_fifo: o.fifo = optarg; break;
        case opt_dist:
            o.dist = parse_dist(optarg);
            if (!o.dist)
                usage_error("invalid --dist '%s' (exp:MEAN, uniform:SPREAD or fixed, each "
                            "optionally :TAIL_PPM:TAIL_MULT; durations up to 10s)",
                            optarg);
            o.dist_text = optarg;
            break;
        case opt_same:
            o.same_device = true;
            if (optarg && std::strcmp(optarg, "fifo") == 0)
                o.same_mem = false;
            else if (optarg && std::strcmp(optarg, "mem") == 0)
                o.same_fifo = false;
            else if (optarg)
                usage_error("invalid --same-device '%s' (fifo or mem; none: both)", optarg);
            break;
        case opt_rate:
            o.rate = u64("--rate", optarg, 1, ASYNCDEV_MAX_PRODUCE_HZ);
            rate_given = true;
            break;
        case opt_duration:
            if (!tool::parse_double(optarg, o.duration) || o.duration <= 0 || o.duration > 3600)
                usage_error("invalid --duration '%s' (seconds, > 0 and <= 3600)", optarg);
            duration_given = true;
            break;
        case 'o': o.json = optarg; break;
        case 'p': o.plot = optarg; break;
        case 'P': o.plot_from = optarg; break;
        case 'b': o.batch = u64("--batch", optarg, 1, 4096); break;
        case 'q': o.quiet = true; break;
        case 'h': usage(); return 0;
        case 'V': tool::print_version(); return 0;
        case ':': usage_error("option '%s' needs an argument", argv[optind - 1]);
        default:
            if (optopt)
                usage_error("unknown option '-%c'", optopt);
            usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);
    if (o.plot_from && !o.plot)
        usage_error("--plot-from needs --plot FILE.png");
    if (o.dist && (o.jitter_ns || o.batch))
        usage_error("--dist replaces --jitter-ns and does not apply to --batch");
    if ((rate_given || duration_given) && !o.same_device)
        usage_error("--rate and --duration need --same-device");
    if (o.same_device && o.batch)
        usage_error("--same-device and --batch are different runs: choose one");

    if (o.plot_from) { // host side: no device
        std::ifstream in(o.plot_from);
        if (!in)
            fail("open %s: %s", o.plot_from, std::strerror(errno));
        std::stringstream ss;
        ss << in.rdbuf();
        tool::json::Value doc;
        try {
            doc = tool::json::parse(ss.str());
        } catch (const std::exception& e) {
            fail("%s: invalid JSON: %s", o.plot_from, e.what());
        }
        plot(doc, o.plot);
        return 0;
    }
    if (o.models.empty())
        o.models = model_names();

    // Stop signals are blocked in every thread and the feeder's parent side;
    // checked with sigpending(): the device configuration is always restored.
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    ::sigprocmask(SIG_BLOCK, &stop_signals, nullptr);

    if (o.batch) {
        if (!latency_given)
            o.latency_ns = 2000000;
        try {
            return run_batch(o);
        } catch (const std::system_error& e) {
            fail("%s", e.what());
        }
    }
    if (o.same_device)
        return run_same_device(o);
    return run_feeder_comparison(o);
}
