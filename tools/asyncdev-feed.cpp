// SPDX-License-Identifier: MIT
// asyncdev-feed: write records (struct asyncdev_record, extended to --size
// bytes) into the FIFO at a given rate, in bursts.
#include "common.h"

#include <asyncdev/asyncdev.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <fcntl.h>
#include <getopt.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

using tool::fail;
using tool::usage_error;

namespace {

void usage()
{
    std::printf(
        "Usage: %s [OPTIONS]\n"
        "Write records to an asyncdev FIFO (or any file or pipe), in the format of the\n"
        "driver's producer: struct asyncdev_record (magic, size, seq from 0,\n"
        "CLOCK_MONOTONIC timestamp_ns at the write) extended to --size bytes, the\n"
        "payload byte i being (uint8_t)(seq + i). asyncdev-watch reads them back.\n"
        "A regular file is created if missing (not under /dev/) and truncated first,\n"
        "unless --append: then the records go after what is there, seq from 0 again\n"
        "(asyncdev-watch counts that restart as one seq gap).\n"
        "\n"
        "Options:\n"
        "  -d, --device PATH   where to write (default %s)\n"
        "  -r, --rate HZ       records per second (default 0: as fast as possible)\n"
        "  -s, --size BYTES    record size, 64..%zu (default 64; k/M suffixes)\n"
        "  -n, --count N       records to write, then exit (default 0: until a signal)\n"
        "  -b, --burst N       records per write(2) call, written together (default 1)\n"
        "  -a, --append        a regular file: append instead of truncating it\n"
        "  -j, --json          the summary as one JSON object on stdout (even with --quiet)\n"
        "  -q, --quiet         no summary\n"
        "  -h, --help          this help\n"
        "  -V, --version       version\n"
        "\n"
        "Writes are non-blocking and driven by the library's event loop: when the FIFO\n"
        "is full the feeder waits for EPOLLOUT; at a fixed --rate it catches up in\n"
        "bursts if it fell behind. Bursts of at most 4096 bytes are atomic in the FIFO.\n"
        "SIGINT/SIGTERM stop it after the write in progress and print the summary.\n"
        "\n"
        "Exit status:\n"
        "  0 success, 1 failure, 2 usage error.\n"
        "\n"
        "Examples:\n"
        "  $ %s --count 100 --rate 1000\n"
        "  $ %s --size 4096 --burst 8 --count 1000\n"
        "  $ %s -d records.bin --count 10 && asyncdev-watch -d records.bin --mode blocking\n",
        tool::prog, asyncdev::fifo_path, tool::record_max, tool::prog, tool::prog, tool::prog);
}

} // namespace

int main(int argc, char** argv)
{
    tool::prog = "asyncdev-feed";
    static const option longopts[] = {
        {"device", required_argument, nullptr, 'd'}, {"rate", required_argument, nullptr, 'r'},
        {"size", required_argument, nullptr, 's'},   {"count", required_argument, nullptr, 'n'},
        {"burst", required_argument, nullptr, 'b'},  {"quiet", no_argument, nullptr, 'q'},
        {"help", no_argument, nullptr, 'h'},         {"version", no_argument, nullptr, 'V'},
        {"append", no_argument, nullptr, 'a'},       {"json", no_argument, nullptr, 'j'},
        {nullptr, 0, nullptr, 0}};
    const char* path = asyncdev::fifo_path;
    double rate = 0;
    std::uint64_t size = tool::record_min, count = 0, burst = 1;
    bool quiet = false, append = false, json = false;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":d:r:s:n:b:ajqhV", longopts, nullptr)) != -1) {
        switch (c) {
        case 'd': path = optarg; break;
        case 'r':
            if (!tool::parse_double(optarg, rate) || rate > 1e7)
                usage_error("invalid --rate '%s' (records per second, 0..1e7)", optarg);
            break;
        case 's':
            if (!tool::parse_bytes(optarg, size) || size < tool::record_min ||
                size > tool::record_max)
                usage_error("invalid --size '%s' (%zu..%zu bytes)", optarg, tool::record_min,
                            tool::record_max);
            break;
        case 'n':
            if (!tool::parse_u64(optarg, count))
                usage_error("invalid --count '%s'", optarg);
            break;
        case 'b':
            if (!tool::parse_u64(optarg, burst) || burst == 0 || burst > 65536)
                usage_error("invalid --burst '%s' (1..65536)", optarg);
            break;
        case 'q': quiet = true; break;
        case 'a': append = true; break;
        case 'j': json = true; break;
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
    if (burst * size > 64u << 20)
        usage_error("--burst x --size is too large (at most 64 MiB per write)");

    try {
        asyncdev::Loop loop;
        // Watches first: SIGINT/SIGTERM are then blocked and read from the signalfd.
        bool interrupted = false;
        auto on_signal = [&](const signalfd_siginfo&) {
            interrupted = true;
            loop.stop();
        };
        asyncdev::Loop::Watch sigint = loop.watch_signal(SIGINT, on_signal);
        asyncdev::Loop::Watch sigterm = loop.watch_signal(SIGTERM, on_signal);

        // A regular file: truncated (or appended to), created if missing;
        // never created under /dev/, where a missing node means a module
        // that is not loaded. O_TRUNC and O_APPEND only for a regular file.
        int flags = O_WRONLY | O_NONBLOCK;
        struct stat st{};
        if (::stat(path, &st) == 0) {
            if (S_ISREG(st.st_mode))
                flags |= append ? O_APPEND : O_TRUNC;
        } else if (errno == ENOENT && std::strncmp(path, "/dev/", 5) != 0) {
            flags |= O_CREAT | O_EXCL | (append ? O_APPEND : 0);
        }
        std::error_code ec;
        asyncdev::Device dev = asyncdev::Device::open(path, flags, ec);
        if (ec)
            fail("open %s: %s", path, tool::open_error(path, ec.value()).c_str());
        const int fd = dev.fd();

        std::uint64_t seq = 0;      // next record to generate
        std::uint64_t due = 0;      // records the schedule allows by now
        std::vector<std::byte> pending; // bytes of the current write
        std::size_t pending_off = 0;
        std::uint64_t pending_records = 0;
        std::uint64_t written = 0, bytes = 0, writes = 0, waits = 0;
        int error = 0;
        const bool unlimited = count == 0;
        const std::uint64_t start = tool::now_ns();
        asyncdev::Loop::Watch writable;

        std::function<void()> pump; // declared first so the watch can call it
        pump = [&] {
            for (;;) {
                if (pending_off == pending.size()) {
                    written += pending_records;
                    pending.clear();
                    pending_off = 0;
                    pending_records = 0;
                    if (!unlimited && seq >= count) {
                        loop.stop();
                        return;
                    }
                    std::uint64_t avail = rate > 0 ? due - seq : burst;
                    if (!unlimited)
                        avail = std::min(avail, count - seq);
                    const std::uint64_t n = std::min<std::uint64_t>(avail, burst);
                    if (n == 0)
                        return; // wait for the timer
                    pending.resize(n * size);
                    const std::uint64_t ts = tool::now_ns();
                    for (std::uint64_t i = 0; i < n; ++i)
                        tool::fill_record(pending.data() + i * size, size, seq + i, ts);
                    seq += n;
                    pending_records = n;
                }
                const ssize_t w = ::write(fd, pending.data() + pending_off,
                                          pending.size() - pending_off);
                if (w < 0 && errno == EINTR)
                    continue;
                if (w < 0 && errno == EAGAIN) {
                    ++waits;
                    if (!writable)
                        writable = loop.watch_fd(fd, EPOLLOUT, [&](std::uint32_t) {
                            writable.reset();
                            pump();
                        });
                    return;
                }
                if (w < 0) {
                    error = errno;
                    loop.stop();
                    return;
                }
                ++writes;
                bytes += static_cast<std::uint64_t>(w);
                pending_off += static_cast<std::size_t>(w);
            }
        };

        std::optional<asyncdev::Timer> ticker;
        if (rate > 0) {
            // One tick per burst: `burst` records become due every burst/rate s.
            const double period = static_cast<double>(burst) / rate;
            const auto ns = std::chrono::nanoseconds(
                std::max<std::int64_t>(1000, static_cast<std::int64_t>(period * 1e9)));
            ticker.emplace(loop, [&](std::uint64_t expirations) {
                due += expirations * burst;
                if (!writable)
                    pump();
            });
            due = burst; // the first burst goes out at once
            ticker->start(ns, ns);
        }
        loop.post([&] { pump(); });
        loop.run();
        writable.reset();
        ticker.reset();

        const double secs = static_cast<double>(tool::now_ns() - start) / 1e9;
        if (json)
            std::printf("{\"tool\": \"asyncdev-feed\", \"device\": \"%s\", \"records\": %llu, "
                        "\"bytes\": %llu, \"writes\": %llu, \"seconds\": %.6g, "
                        "\"records_per_s\": %.6g, \"waits\": %llu, \"size\": %llu, "
                        "\"burst\": %llu, \"rate\": %.6g, \"interrupted\": %s, \"error\": %s%s%s}\n",
                        tool::json_escape(path).c_str(), static_cast<unsigned long long>(written),
                        static_cast<unsigned long long>(bytes),
                        static_cast<unsigned long long>(writes), secs,
                        secs > 0 ? static_cast<double>(written) / secs : 0.0,
                        static_cast<unsigned long long>(waits),
                        static_cast<unsigned long long>(size),
                        static_cast<unsigned long long>(burst), rate,
                        interrupted ? "true" : "false", error ? "\"" : "",
                        error ? tool::json_escape(std::strerror(error)).c_str() : "null",
                        error ? "\"" : "");
        if (!quiet && !json)
            std::fprintf(stderr,
                         "%s: wrote %llu records (%llu bytes, %llu writes) to %s in %.3f s, "
                         "%.1f records/s, %llu waits for room%s\n",
                         tool::prog, static_cast<unsigned long long>(written),
                         static_cast<unsigned long long>(bytes),
                         static_cast<unsigned long long>(writes), path, secs,
                         secs > 0 ? static_cast<double>(written) / secs : 0.0,
                         static_cast<unsigned long long>(waits),
                         interrupted ? " (interrupted)" : "");
        if (error)
            fail("write %s: %s", path, std::strerror(error));
        return 0;
    } catch (const std::system_error& e) {
        fail("%s", e.what());
    }
}
