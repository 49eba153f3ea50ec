// SPDX-License-Identifier: MIT
// asyncdev-bench --same-device: RecordSink and ReadAlarm (producer.h).
#include "producer.h"
#include "meter.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <sys/time.h>
#include <unistd.h>

namespace bench {

namespace {

/// Idle time of the whole machine so far, in clock ticks: idle + iowait of
/// the first line of /proc/stat; 0 if unreadable. (Busy is the wall time
/// of all CPUs less this: measured idle time is exact with a tickless
/// kernel, where user and system are sampled per tick, and a guest under
/// emulation loses ticks.)
std::uint64_t idle_ticks()
{
    std::ifstream in("/proc/stat");
    std::string cpu;
    std::uint64_t v[8] = {};
    if (!(in >> cpu) || cpu != "cpu")
        return 0;
    for (auto& x : v)
        if (!(in >> x))
            return 0;
    // user nice system idle iowait irq softirq steal
    return v[3] + v[4];
}

constexpr std::uint64_t stuck_ns = 5000000000ull;

extern "C" void alarm_handler(int) {} // only makes a blocked read return EINTR

} // namespace

RecordSink::RecordSink(const Options& o, asyncdev::Device& fifo, FifoResult& r)
    : o_(o), fifo_(fifo), r_(r)
{
    lat_.reserve(static_cast<std::size_t>(static_cast<double>(o.rate) * o.duration * 1.2) + 16);
}

RecordSink::~RecordSink()
{
    stop_producer();
}

void RecordSink::begin()
{
    asyncdev::Config c; // no service time: see docs/tools.md (an O_NONBLOCK read skips it)
    c.channels = 1;
    c.produce_hz = static_cast<std::uint32_t>(o_.rate);
    fifo_.set_config(c);
    producing_ = true;
    begin_ns_ = tool::now_ns();
    last_record_ns_ = begin_ns_;
}

void RecordSink::stop_producer() noexcept
{
    if (!producing_)
        return;
    asyncdev::Config c;
    c.channels = 1;
    std::error_code ec;
    fifo_.set_config(c, ec);
    if (ec)
        warn("%s: stop the producer: %s", o_.fifo, ec.message().c_str());
    producing_ = false;
}

double RecordSink::give_up_seconds() const
{
    return static_cast<double>(o_.warmup) / static_cast<double>(o_.rate) + o_.duration + 10;
}

void RecordSink::watch_counter(const char* what, const std::uint64_t* counter)
{
    counters_.emplace_back(what, counter);
}

RecordSink::Snapshot RecordSink::snap(std::uint64_t now) const
{
    Snapshot s;
    s.ns = now;
    ::getrusage(RUSAGE_SELF, &s.ru);
    s.idle_ticks = idle_ticks();
    std::error_code ec;
    s.stats = fifo_.stats(ec);
    for (const auto& c : counters_)
        s.counters.push_back(*c.second);
    s.reads = reads_;
    s.seq_missing = seq_missing_;
    s.bad = bad_ + framer_.junk();
    return s;
}

void RecordSink::start_window(std::uint64_t now)
{
    start_ = snap(now);
    in_window_ = true;
}

void RecordSink::end_window(std::uint64_t now)
{
    if (in_window_)
        end_ = snap(now);
    in_window_ = false;
    done_ = true;
}

bool RecordSink::deliver(const std::byte* buf, std::size_t n, std::uint64_t now)
{
    if (done_)
        return false;
    if (in_window_ && now - start_.ns >= static_cast<std::uint64_t>(o_.duration * 1e9)) {
        end_window(now);
        return false;
    }
    if (!in_window_ && delivered_ >= o_.warmup)
        start_window(now);
    ++reads_;
    framer_.append(buf, n);
    asyncdev_record h;
    while (const std::byte* rec = framer_.next(h)) {
        if (tool::check_record(rec, h.size) != tool::RecordStatus::ok || h.seq < next_seq_) {
            ++bad_; // torn, corrupt, repeated or out of order
            continue;
        }
        seq_missing_ += h.seq - next_seq_;
        next_seq_ = h.seq + 1;
        ++delivered_;
        last_record_ns_ = now;
        if (in_window_) {
            lat_.push_back(now > h.timestamp_ns ? now - h.timestamp_ns : 0);
            measured_bytes_ += h.size;
        }
    }
    framer_.compact();
    if ((reads_ & 63) == 0 && check_interrupt())
        end_window(now);
    return !done_;
}

void RecordSink::fail(int err)
{
    ++r_.io_errors;
    if (r_.error.empty())
        r_.error = std::string("read: ") + std::strerror(err);
    end_window(tool::now_ns());
}

bool RecordSink::poll_stop()
{
    if (done_)
        return true;
    const std::uint64_t now = tool::now_ns();
    if (check_interrupt()) {
        end_window(now);
    } else if (now - last_record_ns_ > stuck_ns ||
               now - begin_ns_ > static_cast<std::uint64_t>(give_up_seconds() * 1e9)) {
        r_.error = "no record for " + fmt("%.0f", static_cast<double>(now - last_record_ns_) / 1e9) +
                   " s (" + std::to_string(delivered_) + " delivered)";
        end_window(now);
    }
    return done_;
}

void RecordSink::finish_result()
{
    if (in_window_)
        end_window(tool::now_ns());
    r_.ran = end_.ns != 0;
    if (!r_.ran) {
        if (r_.error.empty())
            r_.error = interrupted ? "interrupted during the warm-up"
                                   : "no measurement (" + std::to_string(delivered_) +
                                         " records delivered)";
        return;
    }
    r_.records = lat_.size();
    r_.bytes = measured_bytes_;
    r_.reads = end_.reads - start_.reads;
    r_.seconds = static_cast<double>(end_.ns - start_.ns) / 1e9;
    if (r_.seconds > 0)
        r_.records_per_s = static_cast<double>(r_.records) / r_.seconds;
    std::sort(lat_.begin(), lat_.end());
    r_.p50_us = static_cast<double>(tool::percentile_sorted(lat_, 50)) / 1e3;
    r_.p99_us = static_cast<double>(tool::percentile_sorted(lat_, 99)) / 1e3;
    r_.p999_us = static_cast<double>(tool::percentile_sorted(lat_, 99.9)) / 1e3;
    r_.max_us = lat_.empty() ? 0 : static_cast<double>(lat_.back()) / 1e3;
    const double recs = static_cast<double>(std::max<std::uint64_t>(r_.records, 1));
    r_.cpu_us_per_record = (cpu_seconds(end_.ru) - cpu_seconds(start_.ru)) * 1e6 / recs;
    const long csw = (end_.ru.ru_nvcsw + end_.ru.ru_nivcsw) - (start_.ru.ru_nvcsw + start_.ru.ru_nivcsw);
    r_.ctxsw_per_record = static_cast<double>(csw) / recs;
    const long hz = ::sysconf(_SC_CLK_TCK);
    const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
    if (start_.idle_ticks && end_.idle_ticks && hz > 0 && cpus > 0) {
        const double idle_us = static_cast<double>(end_.idle_ticks - start_.idle_ticks) * 1e6 /
                               static_cast<double>(hz);
        const double all_us = r_.seconds * 1e6 * static_cast<double>(cpus);
        r_.all_cpu_us_per_record = std::max(all_us - idle_us, 0.0) / recs;
    } else {
        r_.all_cpu_us_per_record = -1;
    }
    r_.produced = end_.stats.producer_records - start_.stats.producer_records;
    r_.overruns = end_.stats.producer_overruns - start_.stats.producer_overruns;
    r_.seq_missing = end_.seq_missing - start_.seq_missing;
    r_.bad_records = end_.bad - start_.bad;
    std::string notes;
    for (std::size_t i = 0; i < counters_.size(); ++i) {
        const double v = static_cast<double>(end_.counters[i] - start_.counters[i]) / recs;
        notes += (notes.empty() ? "" : ", ") + fmt("%.2f ", v) + counters_[i].first + "/rec";
    }
    if (!r_.notes.empty())
        notes += (notes.empty() ? "" : ", ") + r_.notes;
    r_.notes = notes;
}

ReadAlarm::ReadAlarm(double seconds)
{
    struct sigaction sa{};
    sa.sa_handler = alarm_handler; // no SA_RESTART: read returns EINTR
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGALRM, &sa, &old_);
    itimerval it{};
    it.it_value.tv_sec = static_cast<time_t>(seconds);
    it.it_value.tv_usec = static_cast<suseconds_t>((seconds - static_cast<double>(it.it_value.tv_sec)) * 1e6);
    it.it_interval.tv_sec = 1;
    ::setitimer(ITIMER_REAL, &it, nullptr);
}

ReadAlarm::~ReadAlarm()
{
    itimerval it{};
    ::setitimer(ITIMER_REAL, &it, nullptr);
    ::sigaction(SIGALRM, &old_, nullptr);
}

} // namespace bench
