// SPDX-License-Identifier: MIT
// asyncdev-bench: the feeder comparison (the default mode): every model
// with the same device latency, the readiness models on a FIFO kept full by
// a feeder process, the others on /dev/asyncmem.
#include "device.h"
#include "model.h"
#include "report.h"

#include <algorithm>
#include <cstdio>
#include <system_error>

namespace bench {

Result run_model(Ctx& c, const Model& model)
{
    const Options& o = c.o;
    Result r;
    r.model = model.name;
    r.node = model.fifo ? o.fifo : o.mem;
    if (model.fifo && o.size > c.fifo_capacity / 2) {
        r.error = "--size must be at most half the FIFO capacity (" +
                  std::to_string(c.fifo_capacity) + ") for the FIFO models";
        return r;
    }
    Meter m(o, model.name);
    std::vector<std::uint64_t> lat;
    lat.reserve(o.ops + 16);
    try {
        model.run(c, m, r, lat);
    } catch (const std::exception& e) {
        m.finish(tool::now_ns());
        r.error = e.what();
        return r;
    }
    m.finish(tool::now_ns()); // no-op if already finished
    r.ran = true;
    r.ops = m.measured();
    r.bytes = r.ops * o.size;
    r.seconds = m.seconds();
    if (r.seconds > 0) {
        r.ops_per_s = static_cast<double>(r.ops) / r.seconds;
        r.mib_per_s = static_cast<double>(r.bytes) / r.seconds / (1024.0 * 1024.0);
    }
    std::sort(lat.begin(), lat.end());
    r.p50_us = static_cast<double>(tool::percentile_sorted(lat, 50)) / 1e3;
    r.p99_us = static_cast<double>(tool::percentile_sorted(lat, 99)) / 1e3;
    r.p999_us = static_cast<double>(tool::percentile_sorted(lat, 99.9)) / 1e3;
    if (r.ops) {
        r.cpu_us_per_op = m.cpu() * 1e6 / static_cast<double>(r.ops);
        r.ctxsw_per_op = static_cast<double>(m.ctxsw()) / static_cast<double>(r.ops);
    }
    return r;
}

Image load_mem(const Options& o, DeviceSetup& dev)
{
    // The working set: enough slots that requests in flight never share one.
    std::uint64_t nslots = std::max<std::uint64_t>(o.depth * 4, (1u << 20) / o.size);
    const std::uint64_t mem_cap = dev.mem().info().capacity;
    nslots = std::min<std::uint64_t>(nslots, mem_cap / o.size);
    if (nslots < o.depth)
        fail("%s is too small for --depth %llu x --size %llu", o.mem,
             static_cast<unsigned long long>(o.depth), static_cast<unsigned long long>(o.size));
    Image image = make_image(o.size, nslots);
    dev.set_mem(0, 0, 1);
    write_image(dev.mem(), image, o.mem);
    dev.set_mem(o.latency_ns, o.jitter_ns, o.channels);
    return image;
}

int run_feeder_comparison(Options& o)
{
    if (!o.channels)
        o.channels = o.depth;

    int rc = 0;
    std::vector<Result> results;
    try {
        const bool need_fifo = std::any_of(o.models.begin(), o.models.end(), [](const std::string& m) {
            return find_model(m)->fifo;
        });
        std::uint64_t fifo_cap = 0;
        DeviceSetup dev(o, fifo_cap, need_fifo);
        const Image image = load_mem(o, dev);
        dev.set_fifo(o.latency_ns, o.jitter_ns, std::min<std::uint64_t>(o.channels + 1, ASYNCDEV_MAX_CHANNELS));
        if (o.dist) {
            asyncdev::Latency l = *o.dist;
            l.base = std::chrono::nanoseconds(o.latency_ns);
            dev.set_dist(l);
        }

        if (const std::string cs = clocksource(); !cheap_clock(cs) && !o.quiet)
            warn("note: clocksource is %s: every clock_gettime is a system call here, which "
                 "inflates the per-operation CPU figures (a QEMU TCG guest can boot with "
                 "tsc=reliable)",
                 cs.c_str());
        Ctx ctx{o, image, fifo_cap};
        for (const std::string& m : o.models) {
            if (check_interrupt())
                break;
            if (!o.quiet)
                std::fprintf(stderr, "%s: running %s ...\n", tool::prog, m.c_str());
            results.push_back(run_model(ctx, *find_model(m)));
            const Result& r = results.back();
            if (!r.ran) {
                warn("%s: %s", m.c_str(), r.error.c_str());
                rc = 1;
            } else if (r.io_errors || r.bad_data) {
                warn("%s: %llu I/O errors, %llu reads with wrong data", m.c_str(),
                     static_cast<unsigned long long>(r.io_errors),
                     static_cast<unsigned long long>(r.bad_data));
                rc = 1;
            }
        }
    } catch (const std::system_error& e) {
        fail("%s", e.what());
    }

    const std::string label =
        "feeder comparison (not the same device): blocking, posix-aio, libaio and uring read " +
        std::string(o.mem) + ", nonblock, epoll and sigio read " + o.fifo +
        ", kept full by a feeder process (--same-device compares them on one node)";
    print_table(o, results, stdout, label);
    if (interrupted) {
        warn("interrupted: results are partial");
        rc = 1;
    }
    const std::string js = to_json(o, results, label);
    if (o.json)
        write_json(o.json, js);
    if (o.plot)
        plot(tool::json::parse(js), o.plot);
    return rc;
}

} // namespace bench
