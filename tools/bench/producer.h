// SPDX-License-Identifier: MIT
// asyncdev-bench --same-device, the FIFO part: every model reads the same
// producer-driven FIFO. The driver's producer appends a 64-byte record
// (struct asyncdev_record: seq, CLOCK_MONOTONIC timestamp_ns) at a fixed
// rate, whoever reads; a model reads it its way and hands each read's bytes
// to a RecordSink, which frames and checks the records, takes each one's
// latency from its timestamp to its delivery, and measures a window of
// --duration seconds after --warmup-ops records: CPU time and context
// switches (getrusage RUSAGE_SELF), the machine's busy CPU time (the CPUs'
// time less their idle time in /proc/stat), and the producer's records and overruns (the node's
// counters).
#pragma once

#include "bench.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <sys/resource.h>

namespace bench {

/// The figures of one model on the producer-driven FIFO, over the window.
struct FifoResult {
    std::string model;
    bool ran = false;
    std::string error; ///< why the model could not run (ran = false)
    std::uint64_t records = 0; ///< delivered and intact
    std::uint64_t bytes = 0;
    std::uint64_t reads = 0; ///< reads that returned data (calls or completions)
    double seconds = 0;
    double records_per_s = 0;
    double p50_us = 0, p99_us = 0, p999_us = 0, max_us = 0; ///< timestamp to delivery
    double cpu_us_per_record = 0;     ///< the process, all threads (user + system)
    double all_cpu_us_per_record = 0; ///< the whole machine: all CPUs' time less idle (/proc/stat), -1 if unknown
    double ctxsw_per_record = 0;      ///< voluntary + involuntary, all threads
    std::uint64_t produced = 0;       ///< producer_records delta
    std::uint64_t overruns = 0;       ///< producer_overruns delta: records lost
    std::uint64_t seq_missing = 0;    ///< sequence numbers the reader never saw
    std::uint64_t bad_records = 0;    ///< wrong magic, size or payload; bytes outside records
    std::uint64_t io_errors = 0;
    std::string notes;
    bool verified() const { return !bad_records && !io_errors; }
};

/// Takes the bytes a model reads from the producer-driven FIFO, and runs
/// the producer. Single-threaded: every call from the thread that delivers
/// (the model's loop thread).
class RecordSink {
public:
    /// `fifo`: the FIFO opened for writing (control), configured by the
    /// caller with no service time and the producer off, and flushed.
    RecordSink(const Options& o, asyncdev::Device& fifo, FifoResult& r);
    /// Stops the producer if it still runs.
    ~RecordSink();
    RecordSink(const RecordSink&) = delete;
    RecordSink& operator=(const RecordSink&) = delete;

    /// Starts the producer at o.rate. A model calls it once, set up and
    /// about to wait for its first record.
    void begin();
    /// `n` > 0 bytes a read returned into `buf`, in hand at `now`
    /// (tool::now_ns()). Returns false once the run is over.
    bool deliver(const std::byte* buf, std::size_t n, std::uint64_t now);
    /// A read failed with `err` (not EAGAIN/EINTR): counted; ends the run.
    void fail(int err);
    /// For loops that wait: ends the run on SIGINT/SIGTERM, or as stuck when
    /// no record came for 5 s. Returns done().
    bool poll_stop();
    bool done() const { return done_; }
    /// The time after which a model that cannot call poll_stop() while it
    /// waits (a blocking read) should be woken to call it: the longest a
    /// run can take, plus 10 s.
    double give_up_seconds() const;

    /// A model's own count (EAGAINs, signals, ...): its per-record value
    /// over the window goes to the notes as "x.xx `what`/rec". `counter`
    /// must outlive the run.
    void watch_counter(const char* what, const std::uint64_t* counter);

    /// Appends to the notes (after the counters).
    void add_note(const std::string& s) { r_.notes += (r_.notes.empty() ? "" : ", ") + s; }

    /// After the model returned: the figures, into the FifoResult.
    void finish_result();

private:
    struct Snapshot {
        std::uint64_t ns = 0;
        rusage ru{};
        std::uint64_t idle_ticks = 0; ///< /proc/stat idle + iowait, 0 if unreadable
        asyncdev::Stats stats{};
        std::vector<std::uint64_t> counters;
        std::uint64_t reads = 0, seq_missing = 0, bad = 0;
    };
    Snapshot snap(std::uint64_t now) const;
    void start_window(std::uint64_t now);
    void end_window(std::uint64_t now);
    void stop_producer() noexcept;

    const Options& o_;
    asyncdev::Device& fifo_;
    FifoResult& r_;
    tool::RecordFramer framer_;
    std::vector<std::uint64_t> lat_;
    std::vector<std::pair<const char*, const std::uint64_t*>> counters_;
    std::uint64_t begin_ns_ = 0, last_record_ns_ = 0;
    std::uint64_t delivered_ = 0, reads_ = 0, next_seq_ = 0, seq_missing_ = 0, bad_ = 0;
    std::uint64_t measured_ = 0, measured_bytes_ = 0;
    bool producing_ = false, in_window_ = false, done_ = false;
    Snapshot start_, end_;
};

/// Runs one model on the producer-driven FIFO: opens o.fifo as the model
/// needs, sets up, calls sink.begin(), delivers every read until
/// sink.done(), then waits for a read still in flight (the producer still
/// runs, so it completes) and returns. Throws on a setup failure.
using ProducerFn = void (*)(const Options& o, RecordSink& sink);

/// The time out of a blocking read: while alive, SIGALRM (a handler that
/// does nothing, without SA_RESTART) interrupts a read(2) of this thread
/// with EINTR after `seconds`, and every second after.
class ReadAlarm {
public:
    explicit ReadAlarm(double seconds);
    ~ReadAlarm();
    ReadAlarm(const ReadAlarm&) = delete;
    ReadAlarm& operator=(const ReadAlarm&) = delete;

private:
    struct sigaction old_{};
};

} // namespace bench
