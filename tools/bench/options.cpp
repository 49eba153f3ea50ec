// SPDX-License-Identifier: MIT
// asyncdev-bench: --help and the parsing of --dist.
#include "bench.h"
#include "model.h"

#include <cstdio>

namespace bench {

/// --dist SPEC: KIND[:PARAM][:TAIL_PPM:TAIL_MULT]; nullopt if malformed.
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

void usage()
{
    std::printf(
        "Usage: %s [OPTIONS]\n"
        "       %s --plot-from RESULTS.json --plot OUT.png\n"
        "       %s --batch N [--latency-ns NS] [--size BYTES]\n"
        "       %s --same-device[=fifo|mem] [--rate HZ] [--duration S] [OPTIONS]\n"
        "Run the same reads through seven I/O models against the simulated device and\n"
        "compare throughput, latency, CPU time and context switches per operation.\n"
        "\n"
        "Models (--models, comma-separated; default all):\n",
        tool::prog, tool::prog, tool::prog, tool::prog);
    for (const Model& m : models())
        std::printf("  %-10s %s\n", m.name, m.description);
    std::printf(
        "\n"
        "The default run is the feeder comparison, not on one node. Every model moves\n"
        "the same bytes: a pattern of --size slots written to\n"
        "/dev/asyncmem first (async models and blocking read the slots back at their\n"
        "offsets), or written by a feeder child process into /dev/asyncdev (readiness\n"
        "models read the same slots, in order). Each operation is verified (memcmp).\n"
        "Both nodes get the same --latency-ns/--jitter-ns; /dev/asyncmem --channels,\n"
        "/dev/asyncdev --channels + 1 (one for the feeder's writes, so that the one\n"
        "reading thread of a readiness model never waits for it). The device's\n"
        "configuration is restored at the end.\n"
        "\n"
        "--same-device compares the models on one node at a time. On the FIFO the\n"
        "driver's producer appends 64-byte records at --rate, with no service time (an\n"
        "O_NONBLOCK read skips it), and every model reads them, one read of up to\n"
        "--size bytes at a time, for --duration seconds after --warmup-ops records:\n"
        "latency from each record's timestamp to its bytes in hand, CPU time and\n"
        "context switches per record, and the records lost to overrun (dropped by the\n"
        "producer on a full FIFO). Then /dev/asyncmem at --latency-ns and QD --depth\n"
        "for blocking, posix-aio, libaio and uring; the readiness models do not apply\n"
        "to a memory device, which is never \"not ready\" (the table says why).\n"
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
        "      --same-device[=NODE]  instead: every model on one node at a time, the\n"
        "                        producer-driven FIFO, then /dev/asyncmem (NODE fifo or\n"
        "                        mem: only that one)\n"
        "      --rate HZ         with --same-device: producer records per second\n"
        "                        (default 2000, at most 100000)\n"
        "      --duration S      with --same-device: measured seconds per model on the\n"
        "                        FIFO (default 3)\n"
        "  -q, --quiet           no progress on stderr\n"
        "  -h, --help            this help\n"
        "  -V, --version         version\n"
        "\n"
        "Latency is from issuing a request (read/pread call, io_submit, io_uring submit,\n"
        "aio_read) to its data being in hand. CPU time and context switches are\n"
        "getrusage(RUSAGE_SELF) deltas (all threads of the process, incl. glibc's AIO\n"
        "helpers and io_uring workers; not the feeder process) over the measured part;\n"
        "on the FIFO of --same-device also the whole machine's busy time (/proc/stat).\n"
        "\n"
        "Exit status:\n"
        "  0 success, 1 failure (including an I/O or verification error in any model),\n"
        "  2 usage error.\n"
        "\n"
        "Examples:\n"
        "  $ %s --depth 16 --latency-ns 200us --ops 5000 --json r.json --plot r.png\n"
        "  $ %s --models libaio,uring --latency-ns 50us --dist exp:100us:10000:50\n"
        "  $ %s --same-device --rate 5000 --duration 5 --json same.json\n",
        asyncdev::mem_path, asyncdev::fifo_path, tool::prog, tool::prog, tool::prog);
}

} // namespace bench
