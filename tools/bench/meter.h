// SPDX-License-Identifier: MIT
// asyncdev-bench: Meter, the counting of one model's operations.
#pragma once

#include "bench.h"

#include <sys/resource.h>
#include <unistd.h>

namespace bench {

/// user + system time of `r`, in seconds.
inline double cpu_seconds(const rusage& r)
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
            if (check_interrupt() || over_time(now)) {
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
        if (check_interrupt() || now - begin_ns_ > max_ns_ + 10000000000ull || over_time(now))
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
    /// The measured part has run longer than --max-time at `now`. Another
    /// thread's completion may have started it at a later time than `now`
    /// (each passes the time it read at its own completion): that is not
    /// over time, and the unsigned difference must not wrap around (it
    /// did: the blocking model's four threads ended a run after 15 of its
    /// 200 operations, at "0 ops/s").
    bool over_time(std::uint64_t now) const
    {
        if (!started_.load())
            return false;
        const std::uint64_t t0 = start_ns_.load();
        return now > t0 && now - t0 > max_ns_;
    }
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

} // namespace bench
