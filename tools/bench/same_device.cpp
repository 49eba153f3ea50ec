// SPDX-License-Identifier: MIT
// asyncdev-bench --same-device: the models on equal terms, one node at a
// time. (a) The producer-driven FIFO: the driver's producer appends
// records at --rate whoever reads, with no service time (an O_NONBLOCK read
// skips it, as a non-blocking call must not wait, so any service time would
// favour the readiness models); every model reads the same records with one
// read of up to --size bytes at a time, and a record's latency is from its
// timestamp to its bytes in the reader's hands. (b) /dev/asyncmem at
// --latency-ns and QD --depth for the models that apply to a memory device;
// the readiness models do not, and say why.
#include "device.h"
#include "model.h"
#include "producer.h"
#include "report.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <system_error>

namespace bench {

namespace {

FifoResult run_on_producer(const Options& o, asyncdev::Device& fifo, const Model& m)
{
    FifoResult r;
    r.model = m.name;
    asyncdev::Config c; // no service time, producer off, empty
    c.channels = 1;
    fifo.set_config(c);
    fifo.flush();
    {
        RecordSink sink(o, fifo, r);
        try {
            m.on_producer(o, sink);
        } catch (const std::exception& e) {
            r.error = e.what();
            return r; // ~RecordSink stops the producer
        }
        sink.finish_result();
    }
    fifo.flush();
    return r;
}

std::string fifo_label(const Options& o)
{
    return "same device: producer-driven FIFO at " + std::to_string(o.rate) + " records/s";
}

std::string mem_label(const Options& o)
{
    return "same device: " + std::string(o.mem) + " at latency " +
           fmt("%.1f", static_cast<double>(o.latency_ns) / 1e3) + " us, QD " +
           std::to_string(o.depth);
}

void print_fifo_table(const Options& o, const std::vector<FifoResult>& rs, std::FILE* out)
{
    std::fprintf(out,
                 "%s\n%s: %zu-byte records, no service time, one read of up to %llu B at a "
                 "time, %.1f s per model after %llu warm-up records, clocksource %s\n"
                 "latency: from the record's timestamp (appended by the producer) to its bytes "
                 "in the reader's hands; prod/s: what the producer appended (the rate it kept)\n",
                 fifo_label(o).c_str(), o.fifo, sizeof(asyncdev_record),
                 static_cast<unsigned long long>(o.size), o.duration,
                 static_cast<unsigned long long>(o.warmup), clocksource().c_str());
    std::fprintf(out, "%-10s %8s %8s %8s %9s %9s %9s %9s %11s %11s %8s %9s %8s %-8s %s\n",
                 "model", "records", "rec/s", "prod/s", "p50(us)", "p99(us)", "p999(us)", "max(us)", "cpu(us)/rec",
                 "all-cpu/rec", "csw/rec", "reads/rec", "overruns", "verified", "notes");
    for (const FifoResult& r : rs) {
        if (!r.ran) {
            std::fprintf(out, "%-10s not run: %s\n", r.model.c_str(), r.error.c_str());
            continue;
        }
        const std::string verified =
            r.verified() ? "yes"
                         : "NO(" + std::to_string(r.io_errors) + "e," + std::to_string(r.bad_records) + "b)";
        const std::string all_cpu =
            r.all_cpu_us_per_record < 0 ? "?" : fmt("%.1f", r.all_cpu_us_per_record);
        std::string notes = r.notes;
        if (r.seq_missing != r.overruns)
            notes += (notes.empty() ? "" : ", ") + std::to_string(r.seq_missing) + " seq missing";
        if (!r.error.empty())
            notes += (notes.empty() ? "" : ", ") + r.error;
        std::fprintf(out,
                     "%-10s %8llu %8.0f %8.0f %9.1f %9.1f %9.1f %9.1f %11.1f %11s %8.2f %9.2f %8llu %-8s "
                     "%s\n",
                     r.model.c_str(), static_cast<unsigned long long>(r.records), r.records_per_s,
                     r.seconds > 0 ? static_cast<double>(r.produced) / r.seconds : 0.0, r.p50_us, r.p99_us, r.p999_us, r.max_us, r.cpu_us_per_record, all_cpu.c_str(),
                     r.ctxsw_per_record,
                     r.records ? static_cast<double>(r.reads) / static_cast<double>(r.records) : 0.0,
                     static_cast<unsigned long long>(r.overruns), verified.c_str(), notes.c_str());
    }
}

std::string fifo_json(const Options& o, const std::vector<FifoResult>& rs)
{
    std::ostringstream j;
    auto num = [](double v) { return fmt("%.6g", v); };
    j << "  \"fifo\": {\"label\": \"" << tool::json_escape(fifo_label(o)) << "\", \"node\": \""
      << tool::json_escape(o.fifo) << "\", \"rate_hz\": " << o.rate
      << ", \"duration_s\": " << num(o.duration) << ", \"warmup_records\": " << o.warmup
      << ", \"record_size\": " << sizeof(asyncdev_record) << ", \"read_size\": " << o.size
      << ", \"service_ns\": 0,\n    \"results\": [";
    for (std::size_t i = 0; i < rs.size(); ++i) {
        const FifoResult& r = rs[i];
        j << (i ? ",\n" : "\n") << "      {\"model\": \"" << r.model
          << "\", \"ran\": " << (r.ran ? "true" : "false");
        if (!r.ran) {
            j << ", \"error\": \"" << tool::json_escape(r.error) << "\"}";
            continue;
        }
        j << ", \"records\": " << r.records << ", \"bytes\": " << r.bytes
          << ", \"reads\": " << r.reads << ", \"seconds\": " << num(r.seconds)
          << ", \"records_per_s\": " << num(r.records_per_s)
          << ", \"lat_p50_us\": " << num(r.p50_us) << ", \"lat_p99_us\": " << num(r.p99_us)
          << ", \"lat_p999_us\": " << num(r.p999_us) << ", \"lat_max_us\": " << num(r.max_us)
          << ", \"cpu_us_per_record\": " << num(r.cpu_us_per_record)
          << ", \"all_cpu_us_per_record\": "
          << (r.all_cpu_us_per_record < 0 ? "null" : num(r.all_cpu_us_per_record))
          << ", \"ctxsw_per_record\": " << num(r.ctxsw_per_record)
          << ", \"produced\": " << r.produced << ", \"overruns\": " << r.overruns
          << ", \"seq_missing\": " << r.seq_missing << ", \"bad_records\": " << r.bad_records
          << ", \"io_errors\": " << r.io_errors
          << ", \"verified\": " << (r.verified() ? "true" : "false") << ", \"error\": ";
        if (r.error.empty())
            j << "null";
        else
            j << '"' << tool::json_escape(r.error) << '"';
        j << ", \"notes\": \"" << tool::json_escape(r.notes) << "\"}";
    }
    j << "\n    ]}";
    return j.str();
}

} // namespace

int run_same_device(Options& o)
{
    if (!o.channels)
        o.channels = o.depth;
    int rc = 0;
    std::vector<FifoResult> fifo_results;
    std::vector<Result> mem_results;
    try {
        std::uint64_t fifo_cap = 0;
        DeviceSetup dev(o, fifo_cap, o.same_fifo);
        if (const std::string cs = clocksource(); !cheap_clock(cs) && !o.quiet)
            warn("note: clocksource is %s: every clock_gettime is a system call here, which "
                 "inflates the per-operation CPU figures (a QEMU TCG guest can boot with "
                 "tsc=reliable)",
                 cs.c_str());
        if (o.same_fifo) {
            for (const std::string& name : o.models) {
                if (check_interrupt())
                    break;
                if (!o.quiet)
                    std::fprintf(stderr, "%s: %s: running %s ...\n", tool::prog, o.fifo,
                                 name.c_str());
                fifo_results.push_back(run_on_producer(o, dev.fifo(), *find_model(name)));
                const FifoResult& r = fifo_results.back();
                if (!r.ran) {
                    warn("%s on %s: %s", name.c_str(), o.fifo, r.error.c_str());
                    rc = 1;
                } else if (!r.verified() || !r.records) {
                    warn("%s on %s: %llu records, %llu I/O errors, %llu bad records%s%s",
                         name.c_str(), o.fifo, static_cast<unsigned long long>(r.records),
                         static_cast<unsigned long long>(r.io_errors),
                         static_cast<unsigned long long>(r.bad_records),
                         r.error.empty() ? "" : ": ", r.error.c_str());
                    rc = 1;
                }
            }
        }
        if (o.same_mem && !interrupted) {
            const Image image = load_mem(o, dev);
            if (o.dist) {
                asyncdev::Latency l = *o.dist;
                l.base = std::chrono::nanoseconds(o.latency_ns);
                dev.set_dist(l);
            }
            Ctx ctx{o, image, fifo_cap};
            for (const std::string& name : o.models) {
                if (check_interrupt())
                    break;
                const Model& m = *find_model(name);
                if (m.mem_na) {
                    Result r;
                    r.model = name;
                    r.node = o.mem;
                    r.applicable = false;
                    r.error = m.mem_na;
                    mem_results.push_back(r);
                    continue;
                }
                if (!o.quiet)
                    std::fprintf(stderr, "%s: %s: running %s ...\n", tool::prog, o.mem,
                                 name.c_str());
                mem_results.push_back(run_model(ctx, m));
                const Result& r = mem_results.back();
                if (!r.ran) {
                    warn("%s on %s: %s", name.c_str(), o.mem, r.error.c_str());
                    rc = 1;
                } else if (r.io_errors || r.bad_data) {
                    warn("%s on %s: %llu I/O errors, %llu reads with wrong data", name.c_str(),
                         o.mem, static_cast<unsigned long long>(r.io_errors),
                         static_cast<unsigned long long>(r.bad_data));
                    rc = 1;
                }
            }
        }
    } catch (const std::system_error& e) {
        fail("%s", e.what());
    }

    if (o.same_fifo)
        print_fifo_table(o, fifo_results, stdout);
    if (o.same_fifo && o.same_mem)
        std::fputc('\n', stdout);
    if (o.same_mem)
        print_table(o, mem_results, stdout,
                    mem_label(o) + " (threads for blocking, fds for posix-aio, requests in flight "
                                   "for libaio and uring)");
    if (interrupted) {
        warn("interrupted: results are partial");
        rc = 1;
    }
    std::string js = json_head(o, "same-device",
                               o.same_fifo && o.same_mem ? fifo_label(o) + "; " + mem_label(o)
                               : o.same_fifo             ? fifo_label(o)
                                                         : mem_label(o));
    if (o.same_fifo)
        js += fifo_json(o, fifo_results);
    if (o.same_mem)
        js += std::string(o.same_fifo ? ",\n" : "") + "  \"mem\": {\"label\": \"" +
              tool::json_escape(mem_label(o)) + "\",\n" +
              json_results(o, mem_results, "    ") + "}";
    js += "\n}\n";
    if (o.json)
        write_json(o.json, js);
    if (o.plot)
        plot(tool::json::parse(js), o.plot);
    return rc;
}

} // namespace bench
