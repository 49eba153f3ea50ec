// SPDX-License-Identifier: MIT
// asyncdev-watch: read records from the FIFO as they arrive, with the
// notification style of your choice, and report per-record latency.
#include "common.h"

#include <asyncdev/asyncdev.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <unistd.h>

using tool::fail;
using tool::usage_error;

namespace {

constexpr std::size_t chunk_size = 64 * 1024;

void usage()
{
    std::printf(
        "Usage: %s [OPTIONS]\n"
        "Read records (the driver producer's, or asyncdev-feed's) from an asyncdev FIFO\n"
        "as they arrive, print one line per record with its latency (CLOCK_MONOTONIC\n"
        "now - the record's timestamp_ns) and a summary at the end, on --count,\n"
        "--duration, or SIGINT/SIGTERM.\n"
        "\n"
        "Options:\n"
        "  -d, --device PATH   FIFO to read (default %s)\n"
        "  -m, --mode MODE     how to wait for data (default epoll):\n"
        "                        sigio      O_ASYNC + F_SETSIG real-time signal (SignalNotifier)\n"
        "                        epoll      O_NONBLOCK + epoll readiness (Loop::watch_fd)\n"
        "                        blocking   blocking read(2) in a reader thread\n"
        "                        posix-aio  aio_read, completion by signal (PosixAio)\n"
        "                        libaio     io_submit, queued in the driver (AioContext)\n"
        "                        uring      io_uring read (Uring)\n"
        "  -n, --count N       stop after N records\n"
        "  -t, --duration S    stop after S seconds (fractions allowed)\n"
        "  -q, --quiet         no per-record lines, only the summary\n"
        "  -j, --json          no per-record lines, the summary as one JSON object\n"
        "  -h, --help          this help\n"
        "  -V, --version       version\n"
        "\n"
        "Any readable file works: a regular file is read to its end; a named FIFO, pipe\n"
        "or socket is opened without waiting for a writer and, in the blocking and\n"
        "asynchronous modes, read only once epoll reports it readable (Linux reads such\n"
        "files synchronously inside io_submit: a libaio read would block the loop).\n"
        "\n"
        "Exit status:\n"
        "  0 success (also when stopped by a signal), 1 failure (including --count not\n"
        "  reached before --duration or end of file), 2 usage error.\n"
        "\n"
        "Examples:\n"
        "  $ asyncdevctl producer start 100; %s --mode sigio --count 20\n"
        "  $ asyncdev-feed --count 1000 & %s --mode uring --count 1000 --quiet\n",
        tool::prog, asyncdev::fifo_path, tool::prog, tool::prog);
}

enum class Mode { sigio, epoll, blocking, posix_aio, libaio, uring };

struct ModeName {
    const char* name;
    Mode mode;
};
constexpr ModeName modes[] = {{"sigio", Mode::sigio},         {"epoll", Mode::epoll},
                              {"blocking", Mode::blocking},   {"posix-aio", Mode::posix_aio},
                              {"libaio", Mode::libaio},       {"uring", Mode::uring}};

/// Turns the byte stream into records: frames them (tool::RecordFramer),
/// checks them, prints them and keeps the statistics.
class Sink {
public:
    Sink(std::uint64_t limit, bool quiet) : limit_(limit), quiet_(quiet) {}

    bool done() const { return limit_ && records_ >= limit_; }

    /// Bytes read at time `now` (CLOCK_MONOTONIC ns).
    void feed(const std::byte* p, std::size_t n, std::uint64_t now)
    {
        bytes_ += n;
        framer_.append(p, n);
        asyncdev_record h;
        const std::byte* r;
        while (!done() && (r = framer_.next(h))) {
            flush_junk();
            const bool ok = tool::check_record(r, h.size) == tool::RecordStatus::ok;
            const std::uint64_t lat = now > h.timestamp_ns ? now - h.timestamp_ns : 0;
            if (ok) {
                if (have_seq_ && h.seq != last_seq_ + 1)
                    ++gaps_;
                have_seq_ = true;
                last_seq_ = h.seq;
                latencies_.push_back(lat);
            } else {
                ++bad_;
            }
            ++records_;
            if (!quiet_)
                std::printf("seq=%llu size=%u latency=%.1fus%s\n",
                            static_cast<unsigned long long>(h.seq), h.size,
                            static_cast<double>(lat) / 1e3, ok ? "" : " BAD-PAYLOAD");
        }
        framer_.compact();
        if (!quiet_)
            std::fflush(stdout);
    }

    void flush_junk()
    {
        const std::uint64_t junk = framer_.junk() - junk_shown_;
        if (junk && !quiet_)
            std::printf("skipped %llu bytes that are not records\n",
                        static_cast<unsigned long long>(junk));
        junk_shown_ = framer_.junk();
    }

    std::uint64_t records() const { return records_; }
    std::uint64_t bytes() const { return bytes_; }
    std::uint64_t bad() const { return bad_; }
    std::uint64_t gaps() const { return gaps_; }
    std::uint64_t junk() const { return framer_.junk(); }
    std::vector<std::uint64_t>& latencies() { return latencies_; }

private:
    std::uint64_t limit_;
    bool quiet_;
    tool::RecordFramer framer_;
    std::uint64_t records_ = 0, bytes_ = 0, bad_ = 0, gaps_ = 0;
    std::uint64_t junk_shown_ = 0; // of framer_.junk(), reported by flush_junk()
    bool have_seq_ = false;
    std::uint64_t last_seq_ = 0;
    std::vector<std::uint64_t> latencies_;
};

// ---- options and shared state of one run ----
struct Run {
    const char* path = asyncdev::fifo_path;
    Mode mode = Mode::epoll;
    const char* mode_name = "epoll";
    std::uint64_t count = 0;
    double duration = 0;
    bool quiet = false;
    bool json = false;

    asyncdev::Loop* loop = nullptr;
    Sink* sink = nullptr;
    int fd = -1;
    // A pipe, FIFO, socket or tty (not an asyncdev node, not seekable), in
    // a mode that is not a readiness one: its driver has no asynchronous
    // read (io_submit would do a blocking read inside the system call,
    // with SIGINT blocked: not interruptible), so it stays O_NONBLOCK and
    // a read is issued only once epoll reports it readable (wait_readable).
    bool gate = false;
    int error = 0;          // errno of a failed read
    const char* error_what = "read";
    bool eof = false;
    bool finished = false;  // the mode's loop has returned
    bool interrupted = false;
    bool timed_out = false;
    std::uint64_t signals = 0;   // real-time signals received (sigio)
    std::uint64_t signals_in = 0, signals_out = 0; // of which POLL_IN, POLL_OUT
    std::uint64_t overflows = 0; // SIGIO queue-overflow rescans (sigio)

    void stop() { loop->stop(); }
    // A read result: bytes, 0 = end of file, or -errno.
    void on_result(ssize_t res, const std::byte* data)
    {
        if (res > 0) {
            sink->feed(data, static_cast<std::size_t>(res), tool::now_ns());
            if (sink->done())
                stop();
        } else if (res == 0) {
            eof = true;
            stop();
        } else {
            error = static_cast<int>(-res);
            stop();
        }
    }
};

// Readiness modes: read until EAGAIN (both are edge-style here; for epoll,
// level-triggered, one pass is enough but draining costs nothing more).
void drain(Run& run, std::vector<std::byte>& chunk)
{
    while (!run.sink->done() && !run.error && !run.eof) {
        const ssize_t n = ::read(run.fd, chunk.data(), chunk.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        run.on_result(n < 0 ? -errno : n, chunk.data());
    }
}

void run_epoll(Run& run)
{
    std::vector<std::byte> chunk(chunk_size);
    asyncdev::Loop::Watch w =
        run.loop->watch_fd(run.fd, EPOLLIN, [&](std::uint32_t) { drain(run, chunk); });
    run.loop->run();
}

void run_sigio(Run& run)
{
    std::vector<std::byte> chunk(chunk_size);
    asyncdev::SignalNotifier notifier(*run.loop);
    // A second watch on the notifier's signal counts what really arrives
    // (the notifier's callback also runs once at add(), without a signal).
    asyncdev::Loop::Watch counter =
        run.loop->watch_signal(notifier.signal(), [&](const signalfd_siginfo& si) {
            if (static_cast<int>(si.ssi_fd) != run.fd)
                return;
            ++run.signals;
            if (si.ssi_code == POLL_IN)
                ++run.signals_in;
            else if (si.ssi_code == POLL_OUT)
                ++run.signals_out; // the FIFO left "full": not what a reader waits for
        });
    notifier.add(run.fd, POLLIN, [&](short) { drain(run, chunk); });
    run.loop->run();
    run.overflows = notifier.overflows();
}

// Async modes: one read of chunk_size outstanding at a time (a FIFO is one
// stream: a single request keeps the records in order). The offset matters
// only on a seekable file (asyncmem, a regular file): it advances there, so
// the file is read through to its end instead of its first chunk forever.
template <class B>
void run_async(Run& run, B& io, std::vector<std::byte>& chunk, asyncdev::RequestId& id)
{
    const bool seekable = ::lseek(run.fd, 0, SEEK_CUR) >= 0;
    std::uint64_t offset = 0;
    asyncdev::Loop::Watch readable; // run.gate: waiting for EPOLLIN before a read
    std::function<void()> issue;
    // run.gate: the next read once the fd is readable (data, or the
    // writer gone: the read then returns 0, end of file).
    auto wait_readable = [&] {
        readable = run.loop->watch_fd(run.fd, EPOLLIN, [&](std::uint32_t) {
            readable.reset();
            issue();
        });
    };
    issue = [&] {
        id = io.read(run.fd, chunk, offset, [&, seekable](ssize_t res) {
            id = 0;
            // After run_async returned (PosixAio::wait at exit) `issue` is
            // gone and the summary printed: drop the late result.
            if (run.finished)
                return;
            if (run.gate && res == -EAGAIN) {
                wait_readable();
                return;
            }
            if (seekable && res > 0)
                offset += static_cast<std::uint64_t>(res);
            run.on_result(res, chunk.data());
            if (!run.sink->done() && !run.error && !run.eof)
                issue();
        });
        io.submit();
    };
    if (run.gate)
        wait_readable();
    else
        issue();
    run.loop->run();
    readable.reset();
    run.finished = true;
}

std::atomic<bool> reader_stop{false};
extern "C" void interrupt_handler(int) {} // only makes a blocked read return EINTR

void run_blocking(Run& run)
{
    // The reader thread inherits the mask with SIGINT/SIGTERM blocked (the
    // watches were made first), so only the loop thread handles them.
    // SIGUSR1 is used to interrupt its read(2) when we stop.
    struct sigaction sa{};
    sa.sa_handler = interrupt_handler; // no SA_RESTART: read returns EINTR
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGUSR1, &sa, nullptr);
    std::atomic<bool> finished{false};
    asyncdev::Loop& loop = *run.loop;
    int error = 0;
    bool eof = false;
    if (run.gate) {
        // A FIFO without a writer reads as end of file: wait on the loop
        // (SIGINT, --duration) until a writer has written or gone, then
        // read blocking in the thread (SIGUSR1 interrupts it).
        bool ready = false;
        asyncdev::Loop::Watch w = loop.watch_fd(run.fd, EPOLLIN, [&](std::uint32_t) {
            ready = true;
            loop.stop();
        });
        loop.run();
        if (!ready)
            return;
        const int fl = ::fcntl(run.fd, F_GETFL);
        if (fl < 0 || ::fcntl(run.fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
            run.error = errno;
            return;
        }
    }
    std::thread reader([&] {
        std::vector<std::byte> chunk(chunk_size);
        while (!reader_stop.load()) {
            const ssize_t n = ::read(run.fd, chunk.data(), chunk.size());
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                if (n < 0)
                    error = errno;
                else
                    eof = true;
                break;
            }
            run.sink->feed(chunk.data(), static_cast<std::size_t>(n), tool::now_ns());
            if (run.sink->done())
                break;
        }
        finished.store(true);
        loop.post([&] { loop.stop(); });
    });
    loop.run();
    reader_stop.store(true);
    while (!finished.load()) {
        ::pthread_kill(reader.native_handle(), SIGUSR1);
        ::usleep(10000);
    }
    reader.join();
    run.error = error;
    run.eof = eof;
}

/// The summary: text lines, or with --json one JSON object. `overruns`:
/// the producer_overruns delta, or -1 when the node is not an asyncdev node.
void print_summary(Run& run, double secs, long long overruns)
{
    Sink& s = *run.sink;
    s.flush_junk();
    auto& lat = s.latencies();
    std::sort(lat.begin(), lat.end());
    auto us = [](std::uint64_t ns) { return static_cast<double>(ns) / 1e3; };
    auto ull = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
    const double rate = secs > 0 ? static_cast<double>(s.records()) / secs : 0.0;
    if (run.json) {
        std::printf("{\"tool\": \"%s\", \"device\": \"%s\", \"mode\": \"%s\", \"records\": %llu, "
                    "\"bytes\": %llu, \"seconds\": %.6g, \"records_per_s\": %.6g",
                    tool::prog, tool::json_escape(run.path).c_str(), run.mode_name,
                    ull(s.records()), ull(s.bytes()), secs, rate);
        if (lat.empty())
            std::printf(", \"lat_p50_us\": null, \"lat_p99_us\": null, \"lat_max_us\": null");
        else
            std::printf(", \"lat_p50_us\": %.6g, \"lat_p99_us\": %.6g, \"lat_max_us\": %.6g",
                        us(tool::percentile_sorted(lat, 50)),
                        us(tool::percentile_sorted(lat, 99)), us(lat.back()));
        if (run.mode == Mode::sigio)
            std::printf(", \"signals\": %llu, \"signals_poll_in\": %llu, "
                        "\"signals_poll_out\": %llu, \"sigio_overflows\": %llu",
                        ull(run.signals), ull(run.signals_in), ull(run.signals_out),
                        ull(run.overflows));
        std::printf(", \"seq_gaps\": %llu, \"bad_records\": %llu, \"non_record_bytes\": %llu",
                    ull(s.gaps()), ull(s.bad()), ull(s.junk()));
        if (overruns >= 0)
            std::printf(", \"overruns\": %lld", overruns);
        else
            std::printf(", \"overruns\": null");
        std::printf(", \"interrupted\": %s, \"timed_out\": %s, \"eof\": %s, \"error\": ",
                    run.interrupted ? "true" : "false", run.timed_out ? "true" : "false",
                    run.eof ? "true" : "false");
        if (run.error)
            std::printf("\"%s\"}\n", tool::json_escape(std::strerror(run.error)).c_str());
        else
            std::printf("null}\n");
        return;
    }
    std::printf("--- %s summary: mode %s, %s ---\n", tool::prog, run.mode_name, run.path);
    std::printf("records    %llu (%llu bytes) in %.3f s, %.1f records/s\n", ull(s.records()),
                ull(s.bytes()), secs, rate);
    if (lat.empty())
        std::printf("latency    n/a\n");
    else
        std::printf("latency    p50 %.1f us, p99 %.1f us, max %.1f us\n",
                    us(tool::percentile_sorted(lat, 50)), us(tool::percentile_sorted(lat, 99)),
                    us(lat.back()));
    if (run.mode == Mode::sigio)
        std::printf("signals    %llu received (%llu POLL_IN, %llu POLL_OUT), %llu SIGIO overflow "
                    "rescans\n",
                    ull(run.signals), ull(run.signals_in), ull(run.signals_out),
                    ull(run.overflows));
    std::printf("checks     %llu seq gaps, %llu bad records, %llu non-record bytes\n",
                ull(s.gaps()), ull(s.bad()), ull(s.junk()));
    if (overruns >= 0)
        std::printf("overruns   %lld (producer_overruns delta)\n", overruns);
    else
        std::printf("overruns   n/a (%s is not an asyncdev node)\n", run.path);
}

} // namespace

int main(int argc, char** argv)
{
    tool::prog = "asyncdev-watch";
    static const option longopts[] = {
        {"device", required_argument, nullptr, 'd'}, {"mode", required_argument, nullptr, 'm'},
        {"count", required_argument, nullptr, 'n'},  {"duration", required_argument, nullptr, 't'},
        {"quiet", no_argument, nullptr, 'q'},        {"help", no_argument, nullptr, 'h'},
        {"version", no_argument, nullptr, 'V'},      {"json", no_argument, nullptr, 'j'},
        {nullptr, 0, nullptr, 0}};
    Run run;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":d:m:n:t:qjhV", longopts, nullptr)) != -1) {
        switch (c) {
        case 'd': run.path = optarg; break;
        case 'm': {
            bool found = false;
            for (const ModeName& m : modes)
                if (std::strcmp(optarg, m.name) == 0) {
                    run.mode = m.mode;
                    run.mode_name = m.name;
                    found = true;
                }
            if (!found)
                usage_error("invalid --mode '%s' (sigio, epoll, blocking, posix-aio, libaio, "
                            "uring)",
                            optarg);
            break;
        }
        case 'n':
            if (!tool::parse_u64(optarg, run.count) || run.count == 0)
                usage_error("invalid --count '%s' (a number >= 1)", optarg);
            break;
        case 't':
            if (!tool::parse_double(optarg, run.duration) || run.duration == 0 ||
                run.duration > 1e6)
                usage_error("invalid --duration '%s' (seconds > 0)", optarg);
            break;
        case 'q': run.quiet = true; break;
        case 'j': run.json = run.quiet = true; break;
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

    try {
        asyncdev::Loop loop;
        run.loop = &loop;
        // Signal watches before any thread exists (blocking mode, glibc's AIO
        // helpers): SIGINT/SIGTERM stay blocked everywhere, read from the signalfd.
        auto on_signal = [&](const signalfd_siginfo&) {
            run.interrupted = true;
            loop.stop();
        };
        asyncdev::Loop::Watch sigint = loop.watch_signal(SIGINT, on_signal);
        asyncdev::Loop::Watch sigterm = loop.watch_signal(SIGTERM, on_signal);

        // O_NONBLOCK in every mode at open: a named FIFO's open(2) would
        // otherwise wait for a writer with SIGINT blocked (not interruptible).
        const bool readiness = run.mode == Mode::sigio || run.mode == Mode::epoll;
        std::error_code ec;
        asyncdev::Device dev = asyncdev::Device::open(run.path, O_RDONLY | O_NONBLOCK, ec);
        if (ec)
            fail("open %s: %s", run.path, tool::open_error(run.path, ec.value()).c_str());
        run.fd = dev.fd();
        // Overruns: the producer's counter, before and after (asyncdev nodes only).
        std::error_code sec;
        const asyncdev::Stats before = dev.stats(sec);
        const bool have_stats = !sec;
        run.gate = !readiness && !have_stats && ::lseek(run.fd, 0, SEEK_CUR) < 0;
        if (!readiness && !run.gate) {
            // asyncdev nodes and regular files: blocking (the driver queues
            // an asynchronous read; O_NONBLOCK would make it fail EAGAIN).
            const int fl = ::fcntl(run.fd, F_GETFL);
            if (fl < 0 || ::fcntl(run.fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
                fail("fcntl %s: %s", run.path, std::strerror(errno));
        }

        Sink sink(run.count, run.quiet);
        run.sink = &sink;
        std::optional<asyncdev::Timer> deadline;
        if (run.duration > 0) {
            deadline.emplace(loop, [&](std::uint64_t) {
                run.timed_out = true;
                loop.stop();
            });
            deadline->start(std::chrono::nanoseconds(static_cast<std::int64_t>(run.duration * 1e9)));
        }

        const std::uint64_t start = tool::now_ns();
        // posix-aio: glibc cannot cancel a read its helper thread is blocked
        // in (an empty FIFO), and PosixAio's destructor waits for it; then we
        // leave without destroying it (see the end).
        asyncdev::RequestId posix_id = 0;
        std::vector<std::byte> posix_chunk; // outlives posix (declared after)
        std::unique_ptr<asyncdev::PosixAio> posix;
        switch (run.mode) {
        case Mode::epoll: run_epoll(run); break;
        case Mode::sigio: run_sigio(run); break;
        case Mode::blocking: run_blocking(run); break;
        case Mode::posix_aio:
            posix = std::make_unique<asyncdev::PosixAio>(loop);
            posix_chunk.resize(chunk_size);
            run_async(run, *posix, posix_chunk, posix_id);
            break;
        case Mode::libaio: {
            // The buffer and id outlive the engine, whose destructor
            // cancels and waits for the read the kernel may still fill.
            std::vector<std::byte> chunk(chunk_size);
            asyncdev::RequestId id = 0;
            asyncdev::AioContext io(loop, 4);
            run_async(run, io, chunk, id);
            break;
        }
        case Mode::uring: {
            // The buffer and id outlive the engine, whose destructor
            // cancels and waits for the read the kernel may still fill.
            std::vector<std::byte> chunk(chunk_size);
            asyncdev::RequestId id = 0;
            asyncdev::Uring io(loop, 4);
            run_async(run, io, chunk, id);
            break;
        }
        }
        const double secs = static_cast<double>(tool::now_ns() - start) / 1e9;
        deadline.reset();

        long long overruns = -1;
        if (have_stats) {
            const asyncdev::Stats after = dev.stats(sec);
            if (!sec)
                overruns = static_cast<long long>(after.producer_overruns -
                                                  before.producer_overruns);
        }
        print_summary(run, secs, overruns);
        std::fflush(stdout);

        int rc = 0;
        if (run.error) {
            tool::warn("read %s (%s): %s", run.path, run.mode_name, std::strerror(run.error));
            rc = 1;
        } else if (run.count && sink.records() < run.count && !run.interrupted) {
            tool::warn("expected %llu records, got %llu (%s)",
                       static_cast<unsigned long long>(run.count),
                       static_cast<unsigned long long>(sink.records()),
                       run.eof ? "end of file" : "--duration elapsed");
            rc = 1;
        }
        if (posix && posix_id) {
            posix->cancel(posix_id);
            if (!posix->wait(posix_id, std::chrono::milliseconds(200))) {
                // Still blocked in glibc's helper thread: exiting ends it.
                std::fflush(nullptr);
                ::_exit(rc);
            }
        }
        return rc;
    } catch (const std::system_error& e) {
        fail("%s (mode %s, %s)", e.what(), run.mode_name, run.path);
    }
}
