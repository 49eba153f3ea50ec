// SPDX-License-Identifier: MIT
// asyncdev-bench: the same reads, with the same device latency, through
// seven I/O models; throughput, latency percentiles, CPU time and context
// switches per operation.
#include "common.h"
#include "json.h"

#include <asyncdev/asyncdev.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

using tool::fail;
using tool::usage_error;
using tool::warn;

namespace {

// ---------------------------------------------------------------- options

struct Options {
    std::uint64_t depth = 8;
    std::uint64_t size = 4096;
    std::uint64_t latency_ns = 100000;
    std::uint64_t jitter_ns = 0;
    std::uint64_t channels = 0; // 0: = depth
    std::uint64_t ops = 2000;
    std::uint64_t warmup = 200;
    double max_time = 10;
    std::vector<std::string> models;
    const char* mem = asyncdev::mem_path;
    const char* fifo = asyncdev::fifo_path;
    const char* json = nullptr;
    const char* plot = nullptr;
    const char* plot_from = nullptr;
    std::uint64_t batch = 0;
    // --dist: the service time distribution (base = --latency-ns) that
    // replaces --jitter-ns on both nodes; dist_text as given, for the output.
    std::optional<asyncdev::Latency> dist;
    std::string dist_text;
    bool quiet = false;
    std::string command; // argv, for the JSON and the plot title
};

// --dist SPEC: KIND[:PARAM][:TAIL_PPM:TAIL_MULT]; nullopt if malformed.
std::optional<asyncdev::Latency> parse_dist(const std::string& spec)
{
    const std::vector<std::string> f = tool::split(spec, ':');
    asyncdev::Latency l;
    std::size_t i = 1;
    std::uint64_t v = 0, ppm = 0, mult = 1;
    if (f[0] == "exp" || f[0] == "uniform") {
        l.dist = f[0] == "exp" ? asyncdev::LatencyDist::exponential : asyncdev::LatencyDist::uniform;
        if (f.size() < 2 || !tool::parse_duration_ns(f[1].c_str(), v) || v > ASYNCDEV_MAX_SERVICE_NS)
            return std::nullopt;
        l.spread = std::chrono::nanoseconds(v);
        i = 2;
    } else if (f[0] != "fixed") {
        return std::nullopt;
    }
    if (f.size() == i + 2) {
        if (!tool::parse_u64(f[i].c_str(), ppm) || ppm > ASYNCDEV_PPM ||
            !tool::parse_u64(f[i + 1].c_str(), mult) || mult < 1 || mult > ASYNCDEV_MAX_TAIL_MULT)
            return std::nullopt;
    } else if (f.size() != i) {
        return std::nullopt;
    }
    l.tail_ppm = static_cast<std::uint32_t>(ppm);
    l.tail_mult = static_cast<std::uint32_t>(mult);
    return l;
}

const char* const all_models[] = {"blocking", "nonblock", "epoll",  "sigio",
                                  "posix-aio", "libaio",  "uring"};

bool is_fifo_model(const std::string& m)
{
    return m == "nonblock" || m == "epoll" || m == "sigio";
}

const char* model_description(const std::string& m)
{
    if (m == "blocking")
        return "a thread per stream, blocking pread(2) on /dev/asyncmem";
    if (m == "nonblock")
        return "one thread busy-polling O_NONBLOCK read(2) over the stream fds of /dev/asyncdev";
    if (m == "epoll")
        return "one thread, level-triggered epoll (Loop::watch_fd) over the stream fds of "
               "/dev/asyncdev, one read per event";
    if (m == "sigio")
        return "one thread, O_ASYNC + F_SETSIG RT signal per fd (SignalNotifier), drain the "
               "signalled fd until EAGAIN";
    if (m == "posix-aio")
        return "aio_read/lio_listio (glibc thread pool), completion by RT signal (PosixAio)";
    if (m == "libaio")
        return "io_submit, completion through eventfd (AioContext)";
    if (m == "uring")
        return "io_uring, completion through eventfd (Uring)";
    return "";
}

void usage()
{
    std::printf(
        "Usage: %s [OPTIONS]\n"
        "       %s --plot-from RESULTS.json --plot OUT.png\n"
        "       %s --batch N [--latency-ns NS] [--size BYTES]\n"
        "Run the same reads through seven I/O models against the simulated device and\n"
        "compare throughput, latency, CPU time and context switches per operation.\n"
        "\n"
        "Models (--models, comma-separated; default all):\n",
        tool::prog, tool::prog, tool::prog);
    for (const char* m : all_models)
        std::printf("  %-10s %s\n", m, model_description(m));
    std::printf(
        "\n"
        "Every model moves the same bytes: a pattern of --size slots written to\n"
        "/dev/asyncmem first (async models and blocking read the slots back at their\n"
        "offsets), or written by a feeder child process into /dev/asyncdev (readiness\n"
        "models read the same slots, in order). Each operation is verified (memcmp).\n"
        "Both nodes get the same --latency-ns/--jitter-ns; /dev/asyncmem --channels,\n"
        "/dev/asyncdev --channels + 1 (one for the feeder's writes, so that the one\n"
        "reading thread of a readiness model never waits for it). The device's\n"
        "configuration is restored at the end.\n"
        "\n"
        "Options:\n"
        "  -D, --depth N         concurrent streams = requests in flight (default 8)\n"
        "  -s, --size BYTES      bytes per read (default 4096; k/M suffixes)\n"
        "  -l, --latency-ns NS   device service time (default 100us; ns/us/ms/s suffixes)\n"
        "  -j, --jitter-ns NS    uniform extra service time (default 0)\n"
        "      --dist SPEC       service time distribution instead of --jitter-ns, base\n"
        "                        --latency-ns: exp:MEAN, uniform:SPREAD or fixed, each\n"
        "                        optionally :TAIL_PPM:TAIL_MULT (a slow tail); compare\n"
        "                        the p50/p99/p999 columns with and without it\n"
        "  -c, --channels N      requests in service at once (default: = depth)\n"
        "  -n, --ops N           measured operations per model (default 2000)\n"
        "  -w, --warmup-ops N    operations before measuring, excluded (default 200)\n"
        "  -T, --max-time S      stop measuring a model after S seconds (default 10)\n"
        "  -m, --models LIST     models to run (default all)\n"
        "      --mem PATH        memory node (default %s)\n"
        "      --fifo PATH       FIFO node (default %s)\n"
        "  -o, --json FILE       also write the results as JSON ('-' = stdout)\n"
        "  -p, --plot FILE.png   draw the comparison with gnuplot\n"
        "  -P, --plot-from FILE  with --plot: draw from a JSON file of an earlier run\n"
        "                        (no device needed: e.g. on the host for a guest run)\n"
        "  -b, --batch N         instead: time N reads one after another (pread) and as\n"
        "                        one batch (libaio, io_uring, POSIX AIO), to show how\n"
        "                        async I/O hides latency (default latency then 2ms)\n"
        "  -q, --quiet           no progress on stderr\n"
        "  -h, --help            this help\n"
        "  -V, --version         version\n"
        "\n"
        "Latency is from issuing a request (read/pread call, io_submit, io_uring submit,\n"
        "aio_read) to its data being in hand. CPU time and context switches are\n"
        "getrusage(RUSAGE_SELF) deltas (all threads of the process, incl. glibc's AIO\n"
        "helpers and io_uring workers; not the feeder process) over the measured part.\n"
        "\n"
        "Exit status:\n"
        "  0 success, 1 failure (including an I/O or verification error in any model),\n"
        "  2 usage error.\n"
        "\n"
        "Examples:\n"
        "  $ %s --depth 16 --latency-ns 200us --ops 5000 --json r.json --plot r.png\n"
        "  $ %s --models libaio,uring --latency-ns 50us --dist exp:100us:10000:50\n",
        asyncdev::mem_path, asyncdev::fifo_path, tool::prog, tool::prog);
}

// ---------------------------------------------------------------- signals

// SIGINT/SIGTERM are blocked in every thread from the start; the bench
// looks for them with sigpending() between operations (no handler).
sigset_t stop_signals;
std::atomic<bool> interrupted{false};

bool check_interrupt()
{
    if (interrupted.load(std::memory_order_relaxed))
        return true;
    sigset_t pend;
    if (::sigpending(&pend) == 0 &&
        (sigismember(&pend, SIGINT) == 1 || sigismember(&pend, SIGTERM) == 1)) {
        interrupted.store(true);
        return true;
    }
    return false;
}

// ---------------------------------------------------------------- measuring

double cpu_seconds(const rusage& r)
{
    return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
           static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

/// Counts completions; excludes the warm-up; snapshots time and rusage at
/// the start and end of the measured part. complete() is thread-safe.
class Meter {
public:
    Meter(const Options& o, std::string model)
        : warmup_(o.warmup), total_(o.warmup + o.ops),
          max_ns_(static_cast<std::uint64_t>(o.max_time * 1e9)), model_(std::move(model)),
          quiet_(o.quiet), tty_(::isatty(2) == 1)
    {
    }

    std::uint64_t total() const { return total_; }
    bool finished() const { return finished_.load(std::memory_order_acquire); }

    /// Before the first request: starts measuring if there is no warm-up.
    void begin()
    {
        begin_ns_ = tool::now_ns();
        last_progress_ = begin_ns_;
        if (warmup_ == 0)
            start(begin_ns_);
    }

    /// One operation finished (successfully or not). `lat` goes to `samples`
    /// if it is in the measured part. Returns false when no more requests
    /// should be issued.
    /// `now` is the completion time (CLOCK_MONOTONIC ns) the caller read
    /// anyway: clock reads are costly on some guests (HPET clocksource).
    bool complete(std::uint64_t lat_ns, std::uint64_t now, std::vector<std::uint64_t>& samples)
    {
        if (finished())
            return false;
        const std::uint64_t idx = done_.fetch_add(1, std::memory_order_acq_rel);
        if (idx + 1 == warmup_)
            start(now);
        if (idx >= warmup_ && idx < total_)
            samples.push_back(lat_ns);
        if (idx + 1 >= total_) {
            finish(now);
            return false;
        }
        if ((idx & 31) == 0) {
            if (check_interrupt() ||
                (started_.load() && now - start_ns_.load() > max_ns_)) {
                finish(now);
                return false;
            }
            progress(now, idx + 1);
        }
        return true;
    }

    /// For loops that may wait without completions: ends the measurement on
    /// SIGINT/SIGTERM, or when nothing finished in warm-up + measurement +
    /// 10 s (a stuck model). Returns finished().
    bool poll_stop()
    {
        const std::uint64_t now = tool::now_ns();
        if (check_interrupt() || now - begin_ns_ > max_ns_ + 10000000000ull ||
            (started_.load() && now - start_ns_.load() > max_ns_))
            finish(now);
        return finished();
    }

    /// Ends the measurement now (time limit, interruption, failure).
    void finish(std::uint64_t now)
    {
        bool expected = false;
        if (!finished_.compare_exchange_strong(expected, true))
            return;
        if (!started_.load())
            start(now); // never got past the warm-up: an empty measurement
        end_ns_ = now;
        ::getrusage(RUSAGE_SELF, &ru_end_);
        // Completions counted so far (another thread may not yet have
        // stored its latency sample, but its request has finished).
        const std::uint64_t done = std::min(done_.load(), total_);
        measured_at_end_ = done > warmup_ ? done - warmup_ : 0;
        if (printed_.load() && tty_)
            std::fprintf(stderr, "\r\033[K");
    }

    std::uint64_t measured() const { return measured_at_end_; }
    double seconds() const
    {
        const std::uint64_t start = start_ns_.load();
        return end_ns_ > start ? static_cast<double>(end_ns_ - start) / 1e9 : 0;
    }
    double cpu() const { return cpu_seconds(ru_end_) - cpu_seconds(ru_start_); }
    long ctxsw() const
    {
        return (ru_end_.ru_nvcsw + ru_end_.ru_nivcsw) - (ru_start_.ru_nvcsw + ru_start_.ru_nivcsw);
    }

private:
    /// Once: at the end of the warm-up, or from finish() if it came first
    /// (two threads can get here at the same time).
    void start(std::uint64_t now)
    {
        if (start_claimed_.exchange(true))
            return;
        ::getrusage(RUSAGE_SELF, &ru_start_);
        start_ns_.store(now);
        started_.store(true);
    }
    void progress(std::uint64_t now, std::uint64_t done)
    {
        if (quiet_)
            return;
        std::uint64_t last = last_progress_.load();
        if (now - last < 1000000000ull || !last_progress_.compare_exchange_strong(last, now))
            return;
        printed_.store(true);
        std::fprintf(stderr, "%s%s: %s: %llu/%llu ops (%llu warm-up), %.1f s%s", tty_ ? "\r" : "",
                     tool::prog, model_.c_str(), static_cast<unsigned long long>(done),
                     static_cast<unsigned long long>(total_),
                     static_cast<unsigned long long>(warmup_),
                     static_cast<double>(now - begin_ns_) / 1e9, tty_ ? "" : "\n");
    }

    std::uint64_t warmup_, total_, max_ns_;
    std::string model_;
    bool quiet_, tty_;
    std::atomic<bool> printed_{false};
    std::atomic<std::uint64_t> done_{0};
    std::atomic<bool> start_claimed_{false}, started_{false}, finished_{false};
    std::atomic<std::uint64_t> start_ns_{0}, last_progress_{0};
    std::uint64_t begin_ns_ = 0, end_ns_ = 0, measured_at_end_ = 0;
    rusage ru_start_{}, ru_end_{};
};

struct Result {
    std::string model;
    std::string node;
    std::uint64_t ops = 0;
    std::uint64_t bytes = 0;
    double seconds = 0;
    double ops_per_s = 0;
    double mib_per_s = 0;
    double p50_us = 0, p99_us = 0, p999_us = 0;
    double cpu_us_per_op = 0;
    double ctxsw_per_op = 0;
    std::uint64_t io_errors = 0;
    std::uint64_t bad_data = 0;
    bool ran = false;
    std::string error; // why the model could not run
    std::string notes;
};

// ---------------------------------------------------------------- the data

/// The pattern: `nslots` slots of `size` bytes; every 8-byte word holds a
/// hash of its offset in the image, so a slot read from the wrong place or
/// a torn record does not compare equal.
struct Image {
    std::size_t size = 0, nslots = 0;
    std::vector<std::byte> bytes;
    const std::byte* slot(std::uint64_t k) const { return bytes.data() + (k % nslots) * size; }
    std::uint64_t offset(std::uint64_t k) const { return (k % nslots) * size; }
};

std::uint64_t mix64(std::uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

Image make_image(std::size_t size, std::size_t nslots)
{
    Image im;
    im.size = size;
    im.nslots = nslots;
    im.bytes.resize(size * nslots + 8);
    for (std::size_t o = 0; o < size * nslots; o += 8) {
        const std::uint64_t w = mix64(o);
        std::memcpy(im.bytes.data() + o, &w, 8);
    }
    im.bytes.resize(size * nslots);
    return im;
}

struct Ctx {
    const Options& o;
    const Image& image;
    std::uint64_t fifo_capacity;
};

asyncdev::Device open_node(const char* path, int flags)
{
    std::error_code ec;
    asyncdev::Device d = asyncdev::Device::open(path, flags, ec);
    if (ec && tool::open_error(path, ec.value()) != ec.message())
        fail("open %s: %s", path, tool::open_error(path, ec.value()).c_str()); // module not loaded
    if (ec)
        throw std::system_error(ec, std::string("open ") + path);
    return d;
}

std::vector<asyncdev::Device> open_streams(const char* path, std::uint64_t n, int flags)
{
    std::vector<asyncdev::Device> v;
    for (std::uint64_t i = 0; i < n; ++i)
        v.push_back(open_node(path, flags));
    return v;
}

/// Page-aligned buffers, one per stream.
struct Buffers {
    Buffers(std::size_t n, std::size_t size) : size_(size), mem_(n * round(size) + 4096)
    {
        base_ = mem_.data() + (4096 - reinterpret_cast<std::uintptr_t>(mem_.data()) % 4096) % 4096;
    }
    std::byte* operator[](std::size_t i) { return base_ + i * round(size_); }
    static std::size_t round(std::size_t s) { return (s + 4095) / 4096 * 4096; }
    std::size_t size_;
    std::vector<std::byte> mem_;
    std::byte* base_;
};

// ---------------------------------------------------------------- models on /dev/asyncmem

void run_blocking(Ctx& c, Meter& m, Result& r, std::vector<std::uint64_t>& lat)
{
    const Options& o = c.o;
    auto fds = open_streams(o.mem, o.depth, O_RDONLY);
    Buffers bufs(o.depth, o.size);
    std::atomic<std::uint64_t> next{0}, io_errors{0}, bad{0};
    std::vector<std::vector<std::uint64_t>> per_thread(o.depth);
    std::vector<std::thread> threads;
    m.begin();
    for (std::uint64_t s = 0; s < o.depth; ++s)
        threads.emplace_back([&, s] {
            auto& samples = per_thread[s];
            samples.reserve(m.total() / o.depth + 16);
            std::byte* buf = bufs[s];
            for (;;) {
                const std::uint64_t k = next.fetch_add(1);
                if (k >= m.total() || m.finished())
                    return;
                const std::uint64_t t0 = tool::now_ns();
                const ssize_t n = ::pread(fds[s].fd(), buf, o.size,
                                          static_cast<off_t>(c.image.offset(k)));
                const std::uint64_t t1 = tool::now_ns();
                if (n < 0)
                    io_errors.fetch_add(1);
                else if (static_cast<std::uint64_t>(n) != o.size ||
                         std::memcmp(buf, c.image.slot(k), o.size) != 0)
                    bad.fetch_add(1);
                if (!m.complete(t1 - t0, t1, samples))
                    return;
            }
        });
    for (auto& t : threads)
        t.join();
    for (auto& v : per_thread)
        lat.insert(lat.end(), v.begin(), v.end());
    r.io_errors = io_errors;
    r.bad_data = bad;
    r.notes = std::to_string(o.depth) + " threads";
}

// One request per stream in flight; a completion verifies and issues the
// stream's next request; everything prepared in a loop batch goes to the
// kernel in one submit().
template <class B>
void run_async(Ctx& c, Meter& m, Result& r, std::vector<std::uint64_t>& lat, asyncdev::Loop& loop,
               B& io)
{
    const Options& o = c.o;
    auto fds = open_streams(o.mem, o.depth, O_RDONLY);
    Buffers bufs(o.depth, o.size);
    struct Stream {
        std::uint64_t k = 0, t0 = 0;
    };
    std::vector<Stream> streams(o.depth);
    std::uint64_t issued = 0, in_flight = 0;
    bool more = true;
    std::function<void(std::size_t)> issue = [&](std::size_t s) {
        Stream& st = streams[s];
        st.k = issued++;
        ++in_flight;
        st.t0 = tool::now_ns();
        io.read(fds[s].fd(), std::span<std::byte>(bufs[s], o.size), c.image.offset(st.k),
                [&, s](ssize_t res) {
                    --in_flight;
                    Stream& st = streams[s];
                    const std::uint64_t t1 = tool::now_ns();
                    if (res < 0)
                        ++r.io_errors;
                    else if (static_cast<std::uint64_t>(res) != o.size ||
                             std::memcmp(bufs[s], c.image.slot(st.k), o.size) != 0)
                        ++r.bad_data;
                    more = m.complete(t1 - st.t0, t1, lat) && more;
                    if (more && issued < m.total())
                        issue(s);
                });
    };
    m.begin();
    for (std::size_t s = 0; s < o.depth && issued < m.total(); ++s)
        issue(s);
    io.submit();
    while (in_flight) {
        loop.run_once(std::chrono::milliseconds(1000));
        io.submit();
        m.poll_stop();
    }
}

// ---------------------------------------------------------------- models on /dev/asyncdev

/// The feeder: a child process writing the image's slots, in order and
/// forever, into the FIFO with blocking writes of whole records. It is a
/// separate process so that its CPU time is not the model's.
class Feeder {
public:
    Feeder(const Ctx& c)
    {
        const std::uint64_t size = c.o.size;
        std::uint64_t chunk = std::min<std::uint64_t>(c.fifo_capacity / 2, 64 * 1024);
        chunk = std::max<std::uint64_t>(chunk / size, 1);
        const Image& im = c.image;
        const char* path = c.o.fifo;
        pid_ = ::fork();
        if (pid_ < 0)
            throw std::system_error(errno, std::system_category(), "fork");
        if (pid_ == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            ::sigprocmask(SIG_UNBLOCK, &stop_signals, nullptr);
            const int fd = ::open(path, O_WRONLY | O_CLOEXEC);
            if (fd < 0)
                ::_exit(3);
            std::uint64_t k = 0;
            for (;;) {
                const std::uint64_t n = std::min<std::uint64_t>(chunk, im.nslots - k % im.nslots);
                const std::byte* p = im.slot(k);
                std::size_t left = n * size;
                while (left) {
                    const ssize_t w = ::write(fd, p, left);
                    if (w < 0 && errno == EINTR)
                        continue;
                    if (w <= 0)
                        ::_exit(4);
                    p += w;
                    left -= static_cast<std::size_t>(w);
                }
                k += n;
            }
        }
    }
    ~Feeder()
    {
        ::kill(pid_, SIGKILL);
        int st;
        while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
        }
    }
    Feeder(const Feeder&) = delete;
    Feeder& operator=(const Feeder&) = delete;

private:
    pid_t pid_ = -1;
};

/// Reassembles the FIFO's byte stream into records (one reading thread;
/// all stream fds read the same FIFO, so a record cut by a short read is
/// continued by whichever fd reads next) and verifies them in order.
class FifoReader {
public:
    FifoReader(Ctx& c, Meter& m, Result& r, std::vector<std::uint64_t>& lat)
        : c_(c), m_(m), r_(r), lat_(lat), rec_(c.o.size)
    {
    }
    /// One read(2) on `fd`: >0 bytes, or -errno (-EAGAIN: nothing there).
    ssize_t read_one(int fd)
    {
        const std::uint64_t t0 = tool::now_ns();
        const ssize_t n = ::read(fd, rec_.data() + have_, rec_.size() - have_);
        const std::uint64_t t1 = tool::now_ns();
        if (n < 0) {
            if (errno == EAGAIN) {
                ++empty_;
                return -EAGAIN;
            }
            if (errno == EINTR)
                return -EINTR;
            ++r_.io_errors;
            const ssize_t e = -errno;
            more_ = m_.complete(t1 - t0, t1, lat_) && more_;
            return e;
        }
        if (n == 0) { // cannot happen on the FIFO (no EOF): count it as an error
            ++r_.io_errors;
            more_ = m_.complete(t1 - t0, t1, lat_) && more_;
            return -EIO;
        }
        acc_ += t1 - t0;
        have_ += static_cast<std::size_t>(n);
        if (have_ == rec_.size()) {
            if (std::memcmp(rec_.data(), c_.image.slot(k_), rec_.size()) != 0)
                ++r_.bad_data;
            ++k_;
            have_ = 0;
            more_ = m_.complete(acc_, t1, lat_) && more_;
            acc_ = 0;
        }
        return n;
    }
    bool more() const { return more_ && !m_.finished(); }
    std::uint64_t empty() const { return empty_; }

private:
    Ctx& c_;
    Meter& m_;
    Result& r_;
    std::vector<std::uint64_t>& lat_;
    std::vector<std::byte> rec_;
    std::size_t have_ = 0;
    std::uint64_t k_ = 0, acc_ = 0, empty_ = 0;
    bool more_ = true;
};

std::string per_op(std::uint64_t n, std::uint64_t ops, const char* what)
{
    char buf[96];
    std::snprintf(buf, sizeof buf, "%.2f %s/op", ops ? static_cast<double>(n) / ops : 0.0, what);
    return buf;
}

void run_fifo_model(Ctx& c, Meter& m, Result& r, std::vector<std::uint64_t>& lat,
                    const std::string& model)
{
    const Options& o = c.o;
    {
        asyncdev::Device ctl = open_node(o.fifo, O_RDWR | O_NONBLOCK);
        ctl.flush();
    }
    auto fds = open_streams(o.fifo, o.depth, O_RDONLY | O_NONBLOCK);
    FifoReader rd(c, m, r, lat);
    Feeder feeder(c);
    std::uint64_t signals = 0, signals_in = 0, signals_out = 0, overflows = 0, callbacks = 0;
    m.begin();
    if (model == "nonblock") {
        while (rd.more()) {
            for (auto& d : fds)
                if (rd.read_one(d.fd()) == -EAGAIN && (rd.empty() & 1023) == 0)
                    m.poll_stop();
        }
    } else if (model == "epoll") {
        asyncdev::Loop loop;
        std::vector<asyncdev::Loop::Watch> watches;
        for (auto& d : fds)
            watches.push_back(loop.watch_fd(d.fd(), EPOLLIN, [&rd, fd = d.fd()](std::uint32_t) {
                if (rd.more())
                    rd.read_one(fd);
            }));
        while (rd.more()) {
            loop.run_once(std::chrono::milliseconds(1000));
            m.poll_stop();
        }
    } else { // sigio
        asyncdev::Loop loop;
        asyncdev::SignalNotifier notifier(loop);
        asyncdev::Loop::Watch counter =
            loop.watch_signal(notifier.signal(), [&](const signalfd_siginfo& si) {
                ++signals;
                if (si.ssi_code == POLL_IN)
                    ++signals_in;
                else if (si.ssi_code == POLL_OUT)
                    ++signals_out;
            });
        for (auto& d : fds)
            notifier.add(d.fd(), POLLIN, [&rd, &callbacks, fd = d.fd()](short) {
                // Edge-triggered: consume until EAGAIN. A FIFO that never
                // empties (EAGAIN/op 0) needs no signal after add()'s
                // initial readiness check: callbacks show what ran.
                ++callbacks;
                while (rd.more()) {
                    const ssize_t n = rd.read_one(fd);
                    if (n == -EAGAIN)
                        break;
                }
            });
        while (rd.more()) {
            loop.run_once(std::chrono::milliseconds(1000));
            m.poll_stop();
        }
        overflows = notifier.overflows();
        for (auto& d : fds)
            notifier.remove(d.fd());
    }
    const std::uint64_t ops = std::max<std::uint64_t>(m.measured(), 1);
    r.notes = std::to_string(o.depth) + " fds, " + per_op(rd.empty(), ops, "EAGAIN");
    if (model == "sigio")
        r.notes += ", " + per_op(signals, ops, "signals") + " (POLL_IN " +
                   std::to_string(signals_in) + ", POLL_OUT " + std::to_string(signals_out) + "), " +
                   per_op(callbacks, ops, "callbacks") +
                   (overflows ? ", " + std::to_string(overflows) + " overflows" : "");
}

// ---------------------------------------------------------------- one model

Result run_model(Ctx& c, const std::string& model)
{
    const Options& o = c.o;
    Result r;
    r.model = model;
    r.node = is_fifo_model(model) ? o.fifo : o.mem;
    if (is_fifo_model(model) && o.size > c.fifo_capacity / 2) {
        r.error = "--size must be at most half the FIFO capacity (" +
                  std::to_string(c.fifo_capacity) + ") for the FIFO models";
        return r;
    }
    Meter m(o, model);
    std::vector<std::uint64_t> lat;
    lat.reserve(o.ops + 16);
    try {
        if (model == "blocking") {
            run_blocking(c, m, r, lat);
        } else if (is_fifo_model(model)) {
            run_fifo_model(c, m, r, lat, model);
        } else {
            asyncdev::Loop loop;
            if (model == "posix-aio") {
                asyncdev::PosixAio io(loop, asyncdev::PosixAio::Notify::signal, 0,
                                      static_cast<std::size_t>(o.depth));
                run_async(c, m, r, lat, loop, io);
                r.notes = std::to_string(o.depth) + " fds, glibc threads";
            } else if (model == "libaio") {
                asyncdev::AioContext io(loop, static_cast<unsigned>(o.depth));
                run_async(c, m, r, lat, loop, io);
            } else {
                asyncdev::Uring io(loop, static_cast<unsigned>(o.depth));
                run_async(c, m, r, lat, loop, io);
            }
        }
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

// ---------------------------------------------------------------- output

std::string fmt(const char* f, double v)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}

/// The kernel's clocksource ("tsc", "hpet", ...): with anything but the TSC
/// (or kvm-clock) clock_gettime is a system call, and the timing the bench
/// does per operation weighs on its CPU figures.
std::string clocksource()
{
    std::ifstream in("/sys/devices/system/clocksource/clocksource0/current_clocksource");
    std::string cs;
    if (!(in >> cs))
        return "unknown";
    return cs;
}

bool cheap_clock(const std::string& cs)
{
    return cs == "tsc" || cs == "kvm-clock" || cs == "arch_sys_counter" || cs == "unknown";
}

void print_table(const Options& o, const std::vector<Result>& rs, std::FILE* out)
{
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
                         ("not run: " + r.error).c_str());
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

/// "model name" of /proc/cpuinfo ("QEMU TCG CPU version 2.5+" under emulation).
std::string cpu_model()
{
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("model name", 0) == 0) {
            const auto colon = line.find(':');
            if (colon != std::string::npos)
                return line.substr(line.find_first_not_of(' ', colon + 1));
        }
    return "unknown";
}

std::string to_json(const Options& o, const std::vector<Result>& rs)
{
    utsname u{};
    ::uname(&u);
    std::ostringstream j;
    auto num = [](double v) { return fmt("%.6g", v); };
    j << "{\n  \"tool\": \"asyncdev-bench\",\n  \"command\": \"" << tool::json_escape(o.command)
      << "\",\n  \"kernel\": \"" << tool::json_escape(u.release) << "\",\n  \"cpu_model\": \""
      << tool::json_escape(cpu_model()) << "\",\n  \"clocksource\": \""
      << tool::json_escape(clocksource()) << "\",\n  \"cpus\": "
      << std::thread::hardware_concurrency() << ",\n  \"config\": {\"depth\": " << o.depth
      << ", \"size\": " << o.size << ", \"latency_ns\": " << o.latency_ns
      << ", \"jitter_ns\": " << o.jitter_ns << ", \"dist\": \"" << tool::json_escape(o.dist_text)
      << "\", \"channels\": " << o.channels
      << ", \"ops\": " << o.ops << ", \"warmup_ops\": " << o.warmup
      << ", \"max_time_s\": " << num(o.max_time) << "},\n  \"results\": [";
    for (std::size_t i = 0; i < rs.size(); ++i) {
        const Result& r = rs[i];
        j << (i ? ",\n" : "\n") << "    {\"model\": \"" << r.model << "\", \"node\": \""
          << tool::json_escape(r.node) << "\", \"ran\": " << (r.ran ? "true" : "false");
        if (!r.ran) {
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
    j << "\n  ]\n}\n";
    return j.str();
}

// ---------------------------------------------------------------- plotting

bool gnuplot_has(const char* terminal)
{
    const std::string cmd =
        std::string("echo 'set terminal ") + terminal + "' | gnuplot >/dev/null 2>&1";
    return std::system(cmd.c_str()) == 0;
}

void plot(const tool::json::Value& doc, const char* out)
{
    using tool::json::Value;
    const Value* results = doc.get("results");
    const Value* cfg = doc.get("config");
    if (!results || results->type != Value::Type::array || !cfg)
        fail("plot: the JSON has no \"results\" array or \"config\" (not from asyncdev-bench?)");
    if (std::system("command -v gnuplot >/dev/null 2>&1") != 0)
        fail("plot: gnuplot: not found (install gnuplot-nox)");
    const char* term = gnuplot_has("pngcairo") ? "pngcairo" : gnuplot_has("png") ? "png" : nullptr;
    if (!term)
        fail("plot: gnuplot has neither the pngcairo nor the png terminal");
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
                  "asyncdev-bench: depth %.0f, %.0f B reads, latency %.0f us, %.0f channels, "
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
    std::FILE* p = ::popen("gnuplot", "w");
    if (!p)
        fail("plot: popen gnuplot: %s", std::strerror(errno));
    const std::string script = g.str();
    std::fwrite(script.data(), 1, script.size(), p);
    const int st = ::pclose(p);
    if (st != 0)
        fail("plot: gnuplot failed (exit status %d) writing %s", WEXITSTATUS(st), out);
    std::fprintf(stderr, "%s: wrote %s (gnuplot %s terminal)\n", tool::prog, out, term);
}

// ---------------------------------------------------------------- device setup

/// Runs a control call on `path`; on failure exits naming the node and call.
template <class F>
auto ctl(const char* path, F&& f, const char* what) -> decltype(f())
{
    try {
        return f();
    } catch (const std::system_error& e) {
        fail("%s: %s: %s%s", path, what, e.what(),
             e.code().value() == EPERM    ? " (needs CAP_SYS_ADMIN)"
             : e.code().value() == ENOTTY ? " (not an asyncdev node?)"
                                          : "");
    }
}

/// Sets both nodes for the run; the destructor restores what was there.
class DeviceSetup {
public:
    DeviceSetup(const Options& o, std::uint64_t& fifo_capacity, bool need_fifo)
        : mem_(open_node(o.mem, O_RDWR))
    {
        saved_mem_ = ctl(o.mem, [&] { return mem_.config(); }, "get config");
        asyncdev::Fault f = ctl(o.mem, [&] { return mem_.fault(); }, "get fault");
        if (f.mode != asyncdev::FaultMode::off)
            warn("warning: fault injection is on for %s: expect I/O errors", o.mem);
        if (need_fifo) {
            fifo_.emplace(open_node(o.fifo, O_RDWR | O_NONBLOCK));
            saved_fifo_ = ctl(o.fifo, [&] { return fifo_->config(); }, "get config");
            fifo_capacity = ctl(o.fifo, [&] { return fifo_->info(); }, "get info").capacity;
            f = ctl(o.fifo, [&] { return fifo_->fault(); }, "get fault");
            if (f.mode != asyncdev::FaultMode::off)
                warn("warning: fault injection is on for %s: expect I/O errors", o.fifo);
        }
        mem_path_ = o.mem;
        fifo_path_ = o.fifo;
    }
    ~DeviceSetup()
    {
        std::error_code ec;
        mem_.set_config(saved_mem_, ec);
        if (ec)
            warn("%s: restore configuration: %s", mem_path_, ec.message().c_str());
        if (fifo_) {
            fifo_->set_config(saved_fifo_, ec);
            if (ec)
                warn("%s: restore configuration: %s", fifo_path_, ec.message().c_str());
            fifo_->flush(ec);
        }
    }

    void set_mem(std::uint64_t lat, std::uint64_t jit, std::uint64_t ch)
    {
        asyncdev::Config c;
        c.latency = std::chrono::nanoseconds(lat);
        c.jitter = std::chrono::nanoseconds(jit);
        c.channels = static_cast<std::uint32_t>(ch);
        ctl(mem_path_, [&] { mem_.set_config(c); }, "set config");
    }
    void set_fifo(std::uint64_t lat, std::uint64_t jit, std::uint64_t ch)
    {
        if (!fifo_)
            return;
        asyncdev::Config c; // produce_hz 0: only the feeder writes
        c.latency = std::chrono::nanoseconds(lat);
        c.jitter = std::chrono::nanoseconds(jit);
        c.channels = static_cast<std::uint32_t>(ch);
        ctl(fifo_path_, [&] { fifo_->set_config(c); }, "set config");
    }
    // After set_mem/set_fifo: the --dist distribution on both nodes (the
    // destructor's v1 restore replaces it again).
    void set_dist(const asyncdev::Latency& l)
    {
        ctl(mem_path_, [&] { mem_.set_latency(asyncdev::Direction::both, l); }, "set latency");
        if (fifo_)
            ctl(fifo_path_, [&] { fifo_->set_latency(asyncdev::Direction::both, l); },
                "set latency");
    }
    asyncdev::Device& mem() { return mem_; }

private:
    asyncdev::Device mem_;
    std::optional<asyncdev::Device> fifo_;
    asyncdev::Config saved_mem_, saved_fifo_;
    const char* mem_path_ = nullptr;
    const char* fifo_path_ = nullptr;
};

void write_image(asyncdev::Device& mem, const Image& im, const char* path)
{
    std::size_t off = 0;
    while (off < im.bytes.size()) {
        const ssize_t w = ::pwrite(mem.fd(), im.bytes.data() + off, im.bytes.size() - off,
                                   static_cast<off_t>(off));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            fail("write %s: %s", path, w < 0 ? std::strerror(errno) : "short write");
        off += static_cast<std::size_t>(w);
    }
}

// ---------------------------------------------------------------- --batch

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

} // namespace

int main(int argc, char** argv)
{
    tool::prog = "asyncdev-bench";
    enum { opt_mem = 1000, opt_fifo, opt_dist };
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
        {"dist", required_argument, nullptr, opt_dist},  {nullptr, 0, nullptr, 0}};
    Options o;
    bool latency_given = false;
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
            if (!tool::parse_name_list(optarg, {std::begin(all_models), std::end(all_models)},
                                       o.models, bad))
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
        o.models.assign(std::begin(all_models), std::end(all_models));

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
    if (!o.channels)
        o.channels = o.depth;

    int rc = 0;
    std::vector<Result> results;
    try {
        const bool need_fifo = std::any_of(o.models.begin(), o.models.end(), is_fifo_model);
        std::uint64_t fifo_cap = 0;
        DeviceSetup dev(o, fifo_cap, need_fifo);
        // The working set: enough slots that requests in flight never share one.
        std::uint64_t nslots = std::max<std::uint64_t>(o.depth * 4, (1u << 20) / o.size);
        const std::uint64_t mem_cap = dev.mem().info().capacity;
        nslots = std::min<std::uint64_t>(nslots, mem_cap / o.size);
        if (nslots < o.depth)
            fail("%s is too small for --depth %llu x --size %llu", o.mem,
                 static_cast<unsigned long long>(o.depth), static_cast<unsigned long long>(o.size));
        const Image image = make_image(o.size, nslots);
        dev.set_mem(0, 0, 1);
        write_image(dev.mem(), image, o.mem);
        dev.set_mem(o.latency_ns, o.jitter_ns, o.channels);
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
            results.push_back(run_model(ctx, m));
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

    print_table(o, results, stdout);
    if (interrupted) {
        warn("interrupted: results are partial");
        rc = 1;
    }
    const std::string js = to_json(o, results);
    if (o.json) {
        if (std::strcmp(o.json, "-") == 0) {
            std::fputs(js.c_str(), stdout);
        } else {
            std::FILE* f = std::fopen(o.json, "w");
            if (!f || std::fputs(js.c_str(), f) < 0 || std::fclose(f) != 0)
                fail("write %s: %s", o.json, std::strerror(errno));
        }
    }
    if (o.plot)
        plot(tool::json::parse(js), o.plot);
    return rc;
}
