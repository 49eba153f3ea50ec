// SPDX-License-Identifier: MIT
// asyncdevctl: show and change the configuration, statistics, fault
// injection and producer of an asyncdev node.
#include "common.h"

#include <asyncdev/asyncdev.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <fcntl.h>
#include <getopt.h>

using tool::fail;
using tool::usage_error;

namespace {

const char* device_path = asyncdev::fifo_path;
bool json = false;

void usage()
{
    std::printf(
        "Usage: %s [--device PATH] [--json] COMMAND [ARGS]\n"
        "Show and change an asyncdev node (default %s).\n"
        "\n"
        "Commands:\n"
        "  show                      node info, configuration and fault injection (default)\n"
        "  get KEY                   print one value: latency_ns, jitter_ns, channels,\n"
        "                            produce_hz, capacity, record_size, node, abi_version\n"
        "  set KEY=VALUE...          change latency_ns, jitter_ns (ns, or with ns/us/ms/s\n"
        "                            suffix), channels, produce_hz (needs CAP_SYS_ADMIN)\n"
        "  stats                     the statistics counters (aligned table or --json)\n"
        "  reset                     reset the statistics counters\n"
        "  flush                     discard the FIFO contents\n"
        "  fault [next|every|off]    show, or set fault injection: fail the next COUNT\n"
        "                            requests, or every COUNT-th, with ERRNO\n"
        "  producer start HZ | stop  start or stop the record producer (FIFO only)\n"
        "\n"
        "Misbehaviour (changes need CAP_SYS_ADMIN; DIR is r, w or rw):\n"
        "  latency [DIR DIST BASE [SPREAD [TAIL_PPM TAIL_MULT]]]\n"
        "                            show, or set the service time distribution:\n"
        "                            DIST fixed, uniform (BASE + [0, SPREAD]) or exp\n"
        "                            (BASE + exponential of mean SPREAD); with probability\n"
        "                            TAIL_PPM/10^6 it is multiplied by TAIL_MULT\n"
        "  seed [N]                  show, or restart the PRNG from N (replays choices)\n"
        "  stall [off | DIR [every=N] [ppm=P]]\n"
        "                            show, or make requests stall until cancelled or closed\n"
        "  short [off | DIR [every=N] [ppm=P] (bytes=N | permille=P)]\n"
        "                            show, or shorten transfers\n"
        "  badblocks [add|clear START-END | clear-all | writes pass|fail|clear]\n"
        "                            list, or change the bad ranges (/dev/asyncmem)\n"
        "\n"
        "Options:\n"
        "  -d, --device PATH   the node (default %s; /dev/asyncmem is the memory node)\n"
        "  -j, --json          JSON output for show, stats and fault\n"
        "  -e, --errno ERRNO   errno for fault next/every, by name or number (default EIO)\n"
        "  -c, --count N       count for fault next/every (default 1)\n"
        "  -h, --help          this help\n"
        "  -V, --version       version\n"
        "\n"
        "Exit status:\n"
        "  0 success, 1 failure, 2 usage error.\n"
        "\n"
        "Examples:\n"
        "  $ %s set latency_ns=2ms channels=4\n"
        "  $ %s --device /dev/asyncmem stats --json\n"
        "  $ %s fault next --errno EIO --count 3\n"
        "  $ %s producer start 1000\n"
        "  $ %s --device /dev/asyncmem latency r exp 100us 1ms 1000 20\n"
        "  $ %s stall r every=10\n"
        "  $ %s --device /dev/asyncmem badblocks add 4096-8191\n",
        tool::prog, asyncdev::fifo_path, asyncdev::fifo_path, tool::prog, tool::prog, tool::prog,
        tool::prog, tool::prog, tool::prog, tool::prog);
}

asyncdev::Device open_device(int flags)
{
    std::error_code ec;
    asyncdev::Device dev = asyncdev::Device::open(device_path, flags | O_NONBLOCK, ec);
    if (ec)
        fail("open %s: %s", device_path, tool::open_error(device_path, ec.value()).c_str());
    return dev;
}

// Runs an ioctl wrapper; on failure names the device, the action and the ioctl.
template <class F>
auto check(const char* what, F&& f)
{
    try {
        return f();
    } catch (const std::system_error& e) {
        if (e.code().value() == ENOTTY)
            fail("%s: %s: %s (not an asyncdev node?)", device_path, what, e.what());
        if (e.code().value() == EPERM)
            fail("%s: %s: %s (needs CAP_SYS_ADMIN)", device_path, what, e.what());
        fail("%s: %s: %s", device_path, what, e.what());
    }
}

const char* node_name(asyncdev::NodeKind k)
{
    switch (k) {
    case asyncdev::NodeKind::fifo: return "fifo";
    case asyncdev::NodeKind::mem: return "mem";
    }
    return "unknown";
}

const char* mode_name(asyncdev::FaultMode m)
{
    switch (m) {
    case asyncdev::FaultMode::off: return "off";
    case asyncdev::FaultMode::next: return "next";
    case asyncdev::FaultMode::every: return "every";
    }
    return "unknown";
}

std::string fault_text(const asyncdev::Fault& f)
{
    if (f.mode == asyncdev::FaultMode::off)
        return "off";
    char buf[128];
    std::snprintf(buf, sizeof buf, "%s count=%llu errno=%s", mode_name(f.mode),
                  static_cast<unsigned long long>(f.count), tool::errno_name(f.error).c_str());
    return buf;
}

struct Value {
    const char* key;
    unsigned long long v;
};

std::vector<Value> config_values(const asyncdev::Config& c)
{
    return {{"latency_ns", static_cast<unsigned long long>(c.latency.count())},
            {"jitter_ns", static_cast<unsigned long long>(c.jitter.count())},
            {"channels", c.channels},
            {"produce_hz", c.produce_hz}};
}

std::vector<Value> stats_values(const asyncdev::Stats& s)
{
    return {{"bytes_read", s.bytes_read},       {"bytes_written", s.bytes_written},
            {"reads", s.reads},                 {"writes", s.writes},
            {"async_queued", s.async_queued},   {"async_completed", s.async_completed},
            {"async_cancelled", s.async_cancelled}, {"signals_sent", s.signals_sent},
            {"fifo_level", s.fifo_level},       {"fifo_high_water", s.fifo_high_water},
            {"in_flight", s.in_flight},         {"producer_records", s.producer_records},
            {"producer_overruns", s.producer_overruns},
            {"faults_injected", s.faults_injected}};
}

void print_table(const std::vector<Value>& vals)
{
    for (const Value& v : vals)
        std::printf("%-18s %llu\n", v.key, v.v);
}

void print_json_fields(const std::vector<Value>& vals, bool last)
{
    for (std::size_t i = 0; i < vals.size(); ++i)
        std::printf("  \"%s\": %llu%s\n", vals[i].key, vals[i].v,
                    (last && i + 1 == vals.size()) ? "" : ",");
}

int cmd_show()
{
    asyncdev::Device dev = open_device(O_RDONLY);
    const asyncdev::Info info = check("get info", [&] { return dev.info(); });
    const asyncdev::Config cfg = check("get config", [&] { return dev.config(); });
    const asyncdev::Fault f = check("get fault", [&] { return dev.fault(); });
    if (json) {
        std::printf("{\n  \"device\": \"%s\",\n  \"node\": \"%s\",\n  \"abi_version\": %u,\n"
                    "  \"capacity\": %llu,\n  \"record_size\": %u,\n",
                    tool::json_escape(device_path).c_str(), node_name(info.node), info.abi_version,
                    static_cast<unsigned long long>(info.capacity), info.record_size);
        print_json_fields(config_values(cfg), false);
        std::printf("  \"fault\": {\"mode\": \"%s\", \"errno\": %d, \"errno_name\": \"%s\", "
                    "\"count\": %llu}\n}\n",
                    mode_name(f.mode), f.error, f.error ? tool::errno_name(f.error).c_str() : "",
                    static_cast<unsigned long long>(f.count));
        return 0;
    }
    std::printf("%-18s %s\n", "device", device_path);
    std::printf("%-18s %s\n", "node", node_name(info.node));
    std::printf("%-18s %u\n", "abi_version", info.abi_version);
    std::printf("%-18s %llu\n", "capacity", static_cast<unsigned long long>(info.capacity));
    std::printf("%-18s %u\n", "record_size", info.record_size);
    print_table(config_values(cfg));
    std::printf("%-18s %s\n", "fault", fault_text(f).c_str());
    return 0;
}

int cmd_get(const std::vector<std::string>& args)
{
    if (args.size() != 1)
        usage_error("get: expected one KEY");
    const std::string& key = args[0];
    // Validate before opening: an unknown KEY is a usage error (exit 2)
    // whatever the state of the device.
    bool known = key == "capacity" || key == "record_size" || key == "node" ||
                 key == "abi_version";
    for (const Value& v : config_values(asyncdev::Config{}))
        known = known || key == v.key;
    for (const Value& v : stats_values(asyncdev::Stats{}))
        known = known || key == v.key;
    if (!known)
        usage_error("get: unknown key '%s'", key.c_str());
    asyncdev::Device dev = open_device(O_RDONLY);
    if (key == "capacity" || key == "record_size" || key == "node" || key == "abi_version") {
        const asyncdev::Info info = check("get info", [&] { return dev.info(); });
        if (key == "capacity")
            std::printf("%llu\n", static_cast<unsigned long long>(info.capacity));
        else if (key == "record_size")
            std::printf("%u\n", info.record_size);
        else if (key == "node")
            std::printf("%s\n", node_name(info.node));
        else
            std::printf("%u\n", info.abi_version);
        return 0;
    }
    const asyncdev::Config cfg = check("get config", [&] { return dev.config(); });
    for (const Value& v : config_values(cfg))
        if (key == v.key) {
            std::printf("%llu\n", v.v);
            return 0;
        }
    const asyncdev::Stats st = check("get stats", [&] { return dev.stats(); });
    for (const Value& v : stats_values(st))
        if (key == v.key) {
            std::printf("%llu\n", v.v);
            return 0;
        }
    usage_error("get: unknown key '%s'", key.c_str());
}

int cmd_set(const std::vector<std::string>& args)
{
    if (args.empty())
        usage_error("set: expected KEY=VALUE...");
    // Parse everything first: a usage error changes nothing.
    struct Change {
        std::string key;
        std::uint64_t v;
    };
    std::vector<Change> changes;
    for (const std::string& a : args) {
        tool::Setting s;
        switch (tool::parse_setting(a, s)) {
        case tool::SettingError::ok:
            break;
        case tool::SettingError::not_key_value:
            usage_error("set: '%s' is not KEY=VALUE", a.c_str());
        case tool::SettingError::unknown_key:
            usage_error("set: unknown key '%s' (latency_ns, jitter_ns, channels, produce_hz)",
                        s.key.c_str());
        case tool::SettingError::bad_value:
            usage_error("set: invalid value '%s' for %s", s.text.c_str(), s.key.c_str());
        }
        changes.push_back({s.key, s.value});
    }
    asyncdev::Device dev = open_device(O_RDWR);
    asyncdev::Config cfg = check("get config", [&] { return dev.config(); });
    for (const Change& c : changes) {
        if (c.key == "latency_ns")
            cfg.latency = std::chrono::nanoseconds(c.v);
        else if (c.key == "jitter_ns")
            cfg.jitter = std::chrono::nanoseconds(c.v);
        else if (c.key == "channels")
            cfg.channels = static_cast<std::uint32_t>(c.v);
        else
            cfg.produce_hz = static_cast<std::uint32_t>(c.v);
    }
    std::error_code ec;
    dev.set_config(cfg, ec);
    if (ec) {
        std::string what;
        for (const std::string& a : args)
            what += (what.empty() ? "" : " ") + a;
        const char* hint = ec.value() == EINVAL ? " (out of range? limits: latency_ns and "
                                                  "jitter_ns <= 1s, channels 1..4096, "
                                                  "produce_hz <= 100000, 0 on asyncmem)"
                           : ec.value() == EPERM ? " (needs CAP_SYS_ADMIN)"
                           : ec.value() == ENOTTY ? " (not an asyncdev node?)"
                                                  : "";
        fail("%s: set %s: ioctl(ASYNCDEV_IOC_SET_CONFIG): %s%s", device_path, what.c_str(),
             ec.message().c_str(), hint);
    }
    return 0;
}

int cmd_stats(const std::vector<std::string>& args)
{
    if (!args.empty())
        usage_error("stats: unexpected argument '%s'", args[0].c_str());
    asyncdev::Device dev = open_device(O_RDONLY);
    const asyncdev::Stats st = check("get stats", [&] { return dev.stats(); });
    if (json) {
        std::printf("{\n  \"device\": \"%s\",\n", tool::json_escape(device_path).c_str());
        print_json_fields(stats_values(st), true);
        std::printf("}\n");
    } else {
        print_table(stats_values(st));
    }
    return 0;
}

int cmd_simple(const char* name, const std::vector<std::string>& args)
{
    if (!args.empty())
        usage_error("%s: unexpected argument '%s'", name, args[0].c_str());
    asyncdev::Device dev = open_device(O_RDWR);
    if (std::strcmp(name, "reset") == 0)
        check("reset stats", [&] { dev.reset_stats(); });
    else
        check("flush", [&] { dev.flush(); });
    return 0;
}

int cmd_fault(const std::vector<std::string>& args, const char* errno_arg, const char* count_arg)
{
    if (args.size() > 1)
        usage_error("fault: unexpected argument '%s'", args[1].c_str());
    if (args.empty()) {
        if (errno_arg || count_arg)
            usage_error("fault: --errno and --count need a mode (next or every)");
        asyncdev::Device dev = open_device(O_RDONLY);
        const asyncdev::Fault f = check("get fault", [&] { return dev.fault(); });
        if (json)
            std::printf("{\"device\": \"%s\", \"mode\": \"%s\", \"errno\": %d, \"errno_name\": "
                        "\"%s\", \"count\": %llu}\n",
                        tool::json_escape(device_path).c_str(), mode_name(f.mode), f.error,
                        f.error ? tool::errno_name(f.error).c_str() : "",
                        static_cast<unsigned long long>(f.count));
        else
            std::printf("%s\n", fault_text(f).c_str());
        return 0;
    }
    asyncdev::Fault f;
    const std::string& mode = args[0];
    if (mode == "off") {
        if (errno_arg || count_arg)
            usage_error("fault off: takes no --errno or --count");
        f.mode = asyncdev::FaultMode::off;
    } else if (mode == "next" || mode == "every") {
        f.mode = mode == "next" ? asyncdev::FaultMode::next : asyncdev::FaultMode::every;
        f.error = EIO;
        f.count = 1;
        if (errno_arg && (f.error = tool::parse_errno(errno_arg)) < 0)
            usage_error("fault: invalid errno '%s' (a name such as EIO, or 1..511)", errno_arg);
        if (count_arg && (!tool::parse_u64(count_arg, f.count) || f.count == 0))
            usage_error("fault: invalid count '%s' (a number >= 1)", count_arg);
    } else {
        usage_error("fault: unknown mode '%s' (next, every or off)", mode.c_str());
    }
    asyncdev::Device dev = open_device(O_RDWR);
    std::error_code ec;
    dev.set_fault(f, ec);
    if (ec)
        fail("%s: fault %s: ioctl(ASYNCDEV_IOC_SET_FAULT): %s%s", device_path, mode.c_str(),
             ec.message().c_str(), ec.value() == EPERM ? " (needs CAP_SYS_ADMIN)" : "");
    return 0;
}

int cmd_producer(const std::vector<std::string>& args)
{
    std::uint64_t hz = 0;
    if (args.empty())
        usage_error("producer: expected 'start HZ' or 'stop'");
    if (args[0] == "start") {
        if (args.size() != 2 || !tool::parse_u64(args[1].c_str(), hz) || hz == 0 ||
            hz > ASYNCDEV_MAX_PRODUCE_HZ)
            usage_error("producer start: expected a rate HZ in 1..%d", ASYNCDEV_MAX_PRODUCE_HZ);
    } else if (args[0] == "stop") {
        if (args.size() != 1)
            usage_error("producer stop: unexpected argument '%s'", args[1].c_str());
    } else {
        usage_error("producer: unknown action '%s' (start or stop)", args[0].c_str());
    }
    asyncdev::Device dev = open_device(O_RDWR);
    asyncdev::Config cfg = check("get config", [&] { return dev.config(); });
    cfg.produce_hz = static_cast<std::uint32_t>(hz);
    std::error_code ec;
    dev.set_config(cfg, ec);
    if (ec)
        fail("%s: producer %s: ioctl(ASYNCDEV_IOC_SET_CONFIG): %s%s", device_path,
             args[0].c_str(), ec.message().c_str(),
             ec.value() == EINVAL  ? " (the producer exists on the FIFO node only)"
             : ec.value() == EPERM ? " (needs CAP_SYS_ADMIN)"
                                   : "");
    return 0;
}

// --- Misbehaviour commands -------------------------------------------------

// Reports a failed setter the way cmd_fault does, naming the ioctl.
void check_set(const char* what, const char* ioctl_name, const std::error_code& ec)
{
    if (ec)
        fail("%s: %s: ioctl(%s): %s%s", device_path, what, ioctl_name, ec.message().c_str(),
             ec.value() == EPERM    ? " (needs CAP_SYS_ADMIN)"
             : ec.value() == ENOTTY ? " (not supported by this node)"
                                    : "");
}

const char* dirs_name(asyncdev::Direction d)
{
    switch (d) {
    case asyncdev::Direction::none: return "off";
    case asyncdev::Direction::read: return "r";
    case asyncdev::Direction::write: return "w";
    case asyncdev::Direction::both: return "rw";
    }
    return "?";
}

bool parse_dirs(const std::string& s, asyncdev::Direction& d)
{
    if (s == "r" || s == "read")
        d = asyncdev::Direction::read;
    else if (s == "w" || s == "write")
        d = asyncdev::Direction::write;
    else if (s == "rw" || s == "both")
        d = asyncdev::Direction::both;
    else
        return false;
    return true;
}

const char* dist_name(asyncdev::LatencyDist d)
{
    switch (d) {
    case asyncdev::LatencyDist::fixed: return "fixed";
    case asyncdev::LatencyDist::uniform: return "uniform";
    case asyncdev::LatencyDist::exponential: return "exp";
    }
    return "?";
}

void print_latency(const char* dir, const asyncdev::Latency& l)
{
    if (json)
        std::printf("\"%s\": {\"dist\": \"%s\", \"base_ns\": %lld, \"spread_ns\": %lld, "
                    "\"tail_ppm\": %u, \"tail_mult\": %u}",
                    dir, dist_name(l.dist), static_cast<long long>(l.base.count()),
                    static_cast<long long>(l.spread.count()), l.tail_ppm, l.tail_mult);
    else
        std::printf("%-6s %-8s base=%lldns spread=%lldns tail_ppm=%u tail_mult=%u\n", dir,
                    dist_name(l.dist), static_cast<long long>(l.base.count()),
                    static_cast<long long>(l.spread.count()), l.tail_ppm, l.tail_mult);
}

int cmd_latency(const std::vector<std::string>& args)
{
    if (args.empty()) {
        asyncdev::Device dev = open_device(O_RDONLY);
        const auto r = check("get latency", [&] { return dev.latency(asyncdev::Direction::read); });
        const auto w = check("get latency", [&] { return dev.latency(asyncdev::Direction::write); });
        if (json)
            std::printf("{");
        print_latency("read", r);
        if (json)
            std::printf(", ");
        print_latency("write", w);
        if (json)
            std::printf("}\n");
        return 0;
    }
    asyncdev::Direction dir;
    asyncdev::Latency l;
    std::uint64_t base = 0, spread = 0, ppm = 0, mult = 1;
    if (!parse_dirs(args[0], dir))
        usage_error("latency: invalid direction '%s' (r, w or rw)", args[0].c_str());
    if (args.size() < 3 || args.size() == 5 || args.size() > 6)
        usage_error("latency: expected DIR DIST BASE [SPREAD [TAIL_PPM TAIL_MULT]]");
    if (args[1] == "fixed")
        l.dist = asyncdev::LatencyDist::fixed;
    else if (args[1] == "uniform")
        l.dist = asyncdev::LatencyDist::uniform;
    else if (args[1] == "exp" || args[1] == "exponential")
        l.dist = asyncdev::LatencyDist::exponential;
    else
        usage_error("latency: unknown distribution '%s' (fixed, uniform or exp)", args[1].c_str());
    if (!tool::parse_duration_ns(args[2].c_str(), base) || base > ASYNCDEV_MAX_SERVICE_NS)
        usage_error("latency: invalid BASE '%s' (a duration up to 10s)", args[2].c_str());
    if (args.size() > 3 &&
        (!tool::parse_duration_ns(args[3].c_str(), spread) || spread > ASYNCDEV_MAX_SERVICE_NS))
        usage_error("latency: invalid SPREAD '%s' (a duration up to 10s)", args[3].c_str());
    if (args.size() == 6 &&
        (!tool::parse_u64(args[4].c_str(), ppm) || ppm > ASYNCDEV_PPM ||
         !tool::parse_u64(args[5].c_str(), mult) || mult < 1 || mult > ASYNCDEV_MAX_TAIL_MULT))
        usage_error("latency: invalid tail '%s %s' (TAIL_PPM 0..1000000, TAIL_MULT 1..1000)",
                    args[4].c_str(), args[5].c_str());
    l.base = std::chrono::nanoseconds(base);
    l.spread = std::chrono::nanoseconds(spread);
    l.tail_ppm = static_cast<std::uint32_t>(ppm);
    l.tail_mult = static_cast<std::uint32_t>(mult);
    asyncdev::Device dev = open_device(O_RDWR);
    std::error_code ec;
    dev.set_latency(dir, l, ec);
    check_set("latency", "ASYNCDEV_IOC_SET_LATENCY", ec);
    return 0;
}

int cmd_seed(const std::vector<std::string>& args)
{
    if (args.size() > 1)
        usage_error("seed: unexpected argument '%s'", args[1].c_str());
    if (args.empty()) {
        asyncdev::Device dev = open_device(O_RDONLY);
        const std::uint64_t v = check("get seed", [&] { return dev.seed(); });
        if (json)
            std::printf("{\"seed\": %llu}\n", static_cast<unsigned long long>(v));
        else
            std::printf("%llu\n", static_cast<unsigned long long>(v));
        return 0;
    }
    std::uint64_t v;
    if (!tool::parse_u64(args[0].c_str(), v))
        usage_error("seed: invalid seed '%s' (an unsigned 64-bit number)", args[0].c_str());
    asyncdev::Device dev = open_device(O_RDWR);
    std::error_code ec;
    dev.set_seed(v, ec);
    check_set("seed", "ASYNCDEV_IOC_SET_SEED", ec);
    return 0;
}

// DIR [every=N] [ppm=P] plus the extra KEY=VALUE keys of `extra`.
void parse_trigger(const char* cmd, const std::vector<std::string>& args, asyncdev::Trigger& t,
                   const std::vector<std::pair<std::string, std::uint64_t*>>& extra)
{
    if (!parse_dirs(args[0], t.dirs))
        usage_error("%s: invalid direction '%s' (r, w, rw or off)", cmd, args[0].c_str());
    for (std::size_t i = 1; i < args.size(); ++i) {
        const auto eq = args[i].find('=');
        const std::string key = args[i].substr(0, eq);
        std::uint64_t v;
        if (eq == std::string::npos || !tool::parse_u64(args[i].c_str() + eq + 1, v))
            usage_error("%s: expected KEY=NUMBER, got '%s'", cmd, args[i].c_str());
        if (key == "every") {
            t.every = v;
        } else if (key == "ppm") {
            if (v > ASYNCDEV_PPM)
                usage_error("%s: ppm must be 0..1000000", cmd);
            t.ppm = static_cast<std::uint32_t>(v);
        } else {
            bool found = false;
            for (const auto& [name, out] : extra)
                if (name == key) {
                    *out = v;
                    found = true;
                }
            if (!found)
                usage_error("%s: unknown key '%s'", cmd, key.c_str());
        }
    }
    if (!t.every && !t.ppm)
        usage_error("%s: give every=N and/or ppm=P", cmd);
}

std::string trigger_text(const asyncdev::Trigger& t)
{
    if (t.dirs == asyncdev::Direction::none)
        return "off";
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s every=%llu ppm=%u", dirs_name(t.dirs),
                  static_cast<unsigned long long>(t.every), t.ppm);
    return buf;
}

int cmd_stall(const std::vector<std::string>& args)
{
    if (args.empty()) {
        asyncdev::Device dev = open_device(O_RDONLY);
        const auto st = check("get stall", [&] { return dev.stall(); });
        if (json)
            std::printf("{\"dirs\": \"%s\", \"every\": %llu, \"ppm\": %u}\n",
                        dirs_name(st.when.dirs), static_cast<unsigned long long>(st.when.every),
                        st.when.ppm);
        else
            std::printf("%s\n", trigger_text(st.when).c_str());
        return 0;
    }
    asyncdev::Stall st;
    if (args[0] != "off")
        parse_trigger("stall", args, st.when, {});
    else if (args.size() > 1)
        usage_error("stall off: unexpected argument '%s'", args[1].c_str());
    asyncdev::Device dev = open_device(O_RDWR);
    std::error_code ec;
    dev.set_stall(st, ec);
    check_set("stall", "ASYNCDEV_IOC_SET_STALL", ec);
    return 0;
}

int cmd_short(const std::vector<std::string>& args)
{
    if (args.empty()) {
        asyncdev::Device dev = open_device(O_RDONLY);
        const auto sh = check("get short", [&] { return dev.short_transfer(); });
        if (json)
            std::printf("{\"dirs\": \"%s\", \"every\": %llu, \"ppm\": %u, \"bytes\": %llu, "
                        "\"permille\": %u}\n",
                        dirs_name(sh.when.dirs), static_cast<unsigned long long>(sh.when.every),
                        sh.when.ppm, static_cast<unsigned long long>(sh.bytes), sh.permille);
        else if (sh.when.dirs == asyncdev::Direction::none)
            std::printf("off\n");
        else
            std::printf("%s bytes=%llu permille=%u\n", trigger_text(sh.when).c_str(),
                        static_cast<unsigned long long>(sh.bytes), sh.permille);
        return 0;
    }
    asyncdev::ShortTransfer sh;
    if (args[0] != "off") {
        std::uint64_t bytes = 0, permille = 0;
        parse_trigger("short", args, sh.when, {{"bytes", &bytes}, {"permille", &permille}});
        if (!bytes == !permille || permille >= 1000)
            usage_error("short: give bytes=N or permille=1..999 (one of them)");
        sh.bytes = bytes;
        sh.permille = static_cast<std::uint32_t>(permille);
    } else if (args.size() > 1) {
        usage_error("short off: unexpected argument '%s'", args[1].c_str());
    }
    asyncdev::Device dev = open_device(O_RDWR);
    std::error_code ec;
    dev.set_short_transfer(sh, ec);
    check_set("short", "ASYNCDEV_IOC_SET_SHORT", ec);
    return 0;
}

bool parse_range(const std::string& s, asyncdev::BadRange& r)
{
    const auto dash = s.find('-');
    return dash != std::string::npos && tool::parse_u64(s.substr(0, dash).c_str(), r.start) &&
           tool::parse_u64(s.c_str() + dash + 1, r.end) && r.start <= r.end;
}

int cmd_badblocks(const std::vector<std::string>& args)
{
    static const char* writes_names[] = {"pass", "fail", "clear"};
    if (args.empty() || (args[0] == "list" && args.size() == 1)) {
        asyncdev::Device dev = open_device(O_RDONLY);
        const auto b = check("list bad ranges", [&] { return dev.bad_blocks(); });
        const char* w = writes_names[static_cast<unsigned>(b.writes) % 3];
        if (json) {
            std::printf("{\"writes\": \"%s\", \"ranges\": [", w);
            for (std::size_t i = 0; i < b.ranges.size(); ++i)
                std::printf("%s[%llu, %llu]", i ? ", " : "",
                            static_cast<unsigned long long>(b.ranges[i].start),
                            static_cast<unsigned long long>(b.ranges[i].end));
            std::printf("]}\n");
        } else {
            std::printf("writes %s\n", w);
            for (const auto& r : b.ranges)
                std::printf("%llu-%llu\n", static_cast<unsigned long long>(r.start),
                            static_cast<unsigned long long>(r.end));
        }
        return 0;
    }
    asyncdev::BadRange r;
    const std::string& op = args[0];
    asyncdev::Device dev = open_device(O_RDWR);
    std::error_code ec;
    if ((op == "add" || op == "clear") && args.size() == 2) {
        if (!parse_range(args[1], r))
            usage_error("badblocks %s: expected START-END (bytes, START <= END), got '%s'",
                        op.c_str(), args[1].c_str());
        if (op == "add")
            dev.add_bad_range(r, ec);
        else
            dev.clear_bad_range(r, ec);
    } else if (op == "clear-all" && args.size() == 1) {
        dev.clear_bad_ranges(ec);
    } else if (op == "writes" && args.size() == 2) {
        unsigned i = 0;
        while (i < 3 && args[1] != writes_names[i])
            ++i;
        if (i == 3)
            usage_error("badblocks writes: expected pass, fail or clear, got '%s'",
                        args[1].c_str());
        dev.set_bad_writes(static_cast<asyncdev::BadWrites>(i), ec);
    } else {
        usage_error("badblocks: expected list, add START-END, clear START-END, clear-all or "
                    "writes pass|fail|clear");
    }
    check_set("badblocks", "ASYNCDEV_IOC_BADBLOCKS", ec);
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    tool::prog = "asyncdevctl";
    static const option longopts[] = {
        {"device", required_argument, nullptr, 'd'}, {"json", no_argument, nullptr, 'j'},
        {"errno", required_argument, nullptr, 'e'},  {"count", required_argument, nullptr, 'c'},
        {"help", no_argument, nullptr, 'h'},         {"version", no_argument, nullptr, 'V'},
        {nullptr, 0, nullptr, 0}};
    const char* errno_arg = nullptr;
    const char* count_arg = nullptr;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":d:je:c:hV", longopts, nullptr)) != -1) {
        switch (c) {
        case 'd': device_path = optarg; break;
        case 'j': json = true; break;
        case 'e': errno_arg = optarg; break;
        case 'c': count_arg = optarg; break;
        case 'h': usage(); return 0;
        case 'V': tool::print_version(); return 0;
        case ':': usage_error("option '%s' needs an argument", argv[optind - 1]);
        default: usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    std::string cmd = optind < argc ? argv[optind++] : "show";
    std::vector<std::string> args(argv + optind, argv + argc);
    if ((errno_arg || count_arg) && cmd != "fault")
        usage_error("--errno and --count are options of the fault command");
    if (cmd == "show") {
        if (!args.empty())
            usage_error("show: unexpected argument '%s'", args[0].c_str());
        return cmd_show();
    }
    if (cmd == "get")
        return cmd_get(args);
    if (cmd == "set")
        return cmd_set(args);
    if (cmd == "stats")
        return cmd_stats(args);
    if (cmd == "reset" || cmd == "flush")
        return cmd_simple(cmd.c_str(), args);
    if (cmd == "fault")
        return cmd_fault(args, errno_arg, count_arg);
    if (cmd == "producer")
        return cmd_producer(args);
    if (cmd == "latency")
        return cmd_latency(args);
    if (cmd == "seed")
        return cmd_seed(args);
    if (cmd == "stall")
        return cmd_stall(args);
    if (cmd == "short")
        return cmd_short(args);
    if (cmd == "badblocks")
        return cmd_badblocks(args);
    usage_error("unknown command '%s'", cmd.c_str());
}
