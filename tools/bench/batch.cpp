// SPDX-License-Identifier: MIT
// asyncdev-bench --batch N: N reads one after another (pread) against the
// same N as one batch (libaio, io_uring, POSIX AIO): latency hiding.
#include "batch.h"
#include "device.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fcntl.h>
#include <unistd.h>

namespace bench {

int run_batch(Options& o)
{
    const std::uint64_t n = o.batch;
    std::uint64_t fifo_cap = 0;
    DeviceSetup dev(o, fifo_cap, false);
    const Image im = make_image(o.size, n);
    dev.set_mem(0, 0, 1);
    write_image(dev.mem(), im, o.mem);
    const std::uint64_t channels = o.channels ? o.channels : std::max<std::uint64_t>(n, 32);
    dev.set_mem(o.latency_ns, o.jitter_ns, channels);

    Buffers bufs(n, o.size);
    auto verify = [&](const char* what) {
        for (std::uint64_t i = 0; i < n; ++i)
            if (std::memcmp(bufs[i], im.slot(i), o.size) != 0)
                fail("%s: read %llu returned wrong data", what, static_cast<unsigned long long>(i));
        for (std::uint64_t i = 0; i < n; ++i)
            std::memset(bufs[i], 0, o.size);
    };
    std::printf("%llu reads of %llu B on %s, latency %.3f ms, %llu channels:\n",
                static_cast<unsigned long long>(n), static_cast<unsigned long long>(o.size), o.mem,
                static_cast<double>(o.latency_ns) / 1e6, static_cast<unsigned long long>(channels));

    auto fds = open_streams(o.mem, n, O_RDONLY);
    constexpr int runs = 3; // TCG timings are noisy: best of 3, all shown
    auto show = [&](const char* label, const std::vector<double>& ms, double ref) {
        const double best = *std::min_element(ms.begin(), ms.end());
        std::string all;
        for (double m : ms)
            all += (all.empty() ? "" : " ") + fmt("%.1f", m);
        if (ref > 0)
            std::printf("  %-44s %8.2f ms  (%.1fx %s)  [%s]\n", label, best,
                        ref >= best ? ref / best : best / ref, ref >= best ? "faster" : "slower",
                        all.c_str());
        else
            std::printf("  %-44s %8.2f ms  [%s]\n", label, best, all.c_str());
        return best;
    };

    std::vector<double> sync_ms;
    for (int run = 0; run < runs; ++run) {
        const std::uint64_t t0 = tool::now_ns();
        for (std::uint64_t i = 0; i < n; ++i) {
            const ssize_t r =
                ::pread(fds[0].fd(), bufs[i], o.size, static_cast<off_t>(im.offset(i)));
            if (r != static_cast<ssize_t>(o.size))
                fail("pread %s: %s", o.mem, r < 0 ? std::strerror(errno) : "short read");
        }
        sync_ms.push_back(static_cast<double>(tool::now_ns() - t0) / 1e6);
        verify("pread");
    }
    const double sync_best = show("sync pread(2), one after another", sync_ms, 0);

    // One batch: all reads prepared, one submit, wait for all completions.
    auto batch = [&](const char* label, auto& io, asyncdev::Loop& loop, bool per_fd) {
        std::uint64_t left = n;
        ssize_t bad = 0;
        const std::uint64_t start = tool::now_ns();
        for (std::uint64_t i = 0; i < n; ++i)
            io.read(fds[per_fd ? i : 0].fd(), std::span<std::byte>(bufs[i], o.size), im.offset(i),
                    [&](ssize_t r) {
                        if (r != static_cast<ssize_t>(o.size))
                            bad = r < 0 ? r : -EIO;
                        --left;
                    });
        io.submit();
        while (left)
            loop.run_once();
        const double ms = static_cast<double>(tool::now_ns() - start) / 1e6;
        if (bad)
            fail("%s: %s", label, std::strerror(static_cast<int>(-bad)));
        verify(label);
        return ms;
    };
    auto repeat = [&](const char* label, auto& io, asyncdev::Loop& loop, bool per_fd) {
        std::vector<double> ms;
        for (int run = 0; run < runs; ++run)
            ms.push_back(batch(label, io, loop, per_fd));
        show(label, ms, sync_best);
    };
    {
        asyncdev::Loop loop;
        asyncdev::AioContext io(loop, static_cast<unsigned>(n));
        repeat("libaio: one io_submit of all reads", io, loop, false);
    }
    {
        asyncdev::Loop loop;
        asyncdev::Uring io(loop, static_cast<unsigned>(n));
        repeat("io_uring: one io_uring_submit of all reads", io, loop, false);
    }
    {
        asyncdev::Loop loop;
        asyncdev::PosixAio io(loop, asyncdev::PosixAio::Notify::signal, 0, n);
        show("POSIX AIO: first lio_listio, an fd per read", {batch("", io, loop, true)}, sync_best);
        std::printf("    (glibc starts a helper thread per fd; with them running:)\n");
        repeat("POSIX AIO: lio_listio, an fd per read", io, loop, true);
        repeat("POSIX AIO: lio_listio, all on one fd", io, loop, false);
        std::printf("    (glibc serves the requests of one fd one after another)\n");
    }
    std::printf("(best of %d runs; every run in brackets, in ms)\n", runs);
    return 0;
}

} // namespace bench
