// Composing tasks (issue 13, item 11): co_await on an lvalue Task,
// co_spawn (detached and with a completion handler), when_all (variadic and
// vector), including a spawned task that throws and a when_all where one
// task throws.
#include "test_util.h"

#include <csignal>
#include <memory>
#include <stdexcept>
#include <thread>

#include <sys/wait.h>

using namespace test;
using asyncdev::Task;

namespace {

Task<int> value(int v) { co_return v; }

Task<int> thrower(const char* what)
{
    throw std::runtime_error(what);
    co_return 0;
}

Task<ssize_t> read_pipe(asyncdev::Uring& io, int fd, std::string* out = nullptr)
{
    std::vector<std::byte> buf(16);
    const ssize_t r = co_await asyncdev::async_read(io, fd, buf);
    if (out && r > 0)
        out->assign(reinterpret_cast<const char*>(buf.data()), static_cast<std::size_t>(r));
    co_return r;
}

/// Counts live instances, to see frames being destroyed.
struct Tracker {
    int* live;
    explicit Tracker(int* l) : live(l) { ++*live; }
    Tracker(const Tracker&) = delete;
    ~Tracker() { --*live; }
};

} // namespace

static void test_co_await_lvalue_task(void**)
{
    asyncdev::Loop loop;
    auto body = []() -> Task<int> {
        Task<int> t = value(20);
        const int a = co_await t; // an lvalue
        Task<int> u = value(22);
        co_return a + co_await u;
    };
    assert_int_equal(asyncdev::sync_wait(loop, body()), 42);
}

static void test_awaiting_twice_or_started_task_is_logic_error(void**)
{
    asyncdev::Loop loop;
    auto twice = []() -> Task<std::string> {
        Task<int> t = value(1);
        (void)co_await t;
        try {
            (void)co_await t;
        } catch (const std::logic_error& e) {
            co_return e.what();
        }
        co_return "no error";
    };
    const std::string msg = asyncdev::sync_wait(loop, twice());
    assert_non_null(std::strstr(msg.c_str(), "taken twice"));

    Pair p = make_pipe();
    asyncdev::Uring io(loop);
    Task<ssize_t> pending = read_pipe(io, p.a.get());
    pending.start(); // suspended on the read
    auto await_started = [&]() -> Task<std::string> {
        try {
            (void)co_await pending;
        } catch (const std::logic_error& e) {
            co_return e.what();
        }
        co_return "no error";
    };
    const std::string msg2 = asyncdev::sync_wait(loop, await_started());
    assert_non_null(std::strstr(msg2.c_str(), "already started"));
    bool thrown = false;
    try {
        asyncdev::co_spawn(loop, std::move(pending));
    } catch (const std::logic_error&) {
        thrown = true;
    }
    assert_true(thrown);
}

static void test_co_spawn_detached_runs_on_loop_and_frees_itself(void**)
{
    asyncdev::Loop loop;
    asyncdev::Uring io(loop);
    Pair p = make_pipe();
    int live = 0;
    std::string got;
    pid_t ran_on = 0;
    auto body = [&]() -> Task<void> {
        Tracker t(&live);
        ran_on = ::gettid();
        (void)co_await read_pipe(io, p.a.get(), &got);
    };
    asyncdev::co_spawn(loop, body());
    assert_int_equal(live, 0); // not started inline
    loop.run_once(10ms);
    assert_int_equal(live, 1); // suspended on the read
    assert_int_equal(::write(p.b.get(), "spawned", 7), 7);
    assert_true(run_until(loop, [&] { return live == 0; }));
    assert_string_equal(got.c_str(), "spawned");
    assert_int_equal(ran_on, loop.thread_id());
}

static void test_co_spawn_from_another_thread(void**)
{
    asyncdev::Loop loop;
    int result = 0;
    std::thread t([&] {
        asyncdev::co_spawn(loop, value(7), [&](std::exception_ptr e, int v) {
            result = e ? -1 : v;
        });
    });
    t.join();
    assert_true(run_until(loop, [&] { return result != 0; }));
    assert_int_equal(result, 7);
}

static void test_co_spawn_handler_gets_value(void**)
{
    asyncdev::Loop loop;
    asyncdev::Uring io(loop);
    Pair p = make_pipe();
    ssize_t got = 0;
    int calls = 0;
    pid_t handler_on = 0;
    asyncdev::co_spawn(loop, read_pipe(io, p.a.get()), [&](std::exception_ptr e, ssize_t v) {
        assert_false(static_cast<bool>(e));
        got = v;
        ++calls;
        handler_on = ::gettid();
    });
    assert_int_equal(::write(p.b.get(), "abc", 3), 3);
    assert_true(run_until(loop, [&] { return calls > 0; }));
    loop.run_once(10ms);
    assert_int_equal(calls, 1);
    assert_int_equal(got, 3);
    assert_int_equal(handler_on, loop.thread_id());
}

// Hostile: a spawned task throws; the handler gets the exception, the
// frame is freed (ASan / valgrind check the leak).
static void test_co_spawn_task_that_throws_reports_to_handler(void**)
{
    asyncdev::Loop loop;
    int live = 0;
    std::string what;
    auto body = [&]() -> Task<void> {
        Tracker t(&live);
        co_await asyncdev::sleep_for(loop, 5ms);
        throw std::runtime_error("spawned boom");
    };
    asyncdev::co_spawn(loop, body(), [&](std::exception_ptr e) {
        try {
            if (e)
                std::rethrow_exception(e);
            what = "no exception";
        } catch (const std::runtime_error& x) {
            what = x.what();
        }
    });
    assert_true(run_until(loop, [&] { return !what.empty(); }));
    assert_string_equal(what.c_str(), "spawned boom");
    assert_int_equal(live, 0);
}

// A handler that throws: like any callback, out of run_once; the loop
// stays usable.
static void test_co_spawn_handler_exception_leaves_run_once(void**)
{
    asyncdev::Loop loop;
    asyncdev::co_spawn(loop, value(1),
                       [](std::exception_ptr, int) { throw std::runtime_error("handler"); });
    bool thrown = false;
    for (int i = 0; i < 10 && !thrown; ++i) {
        try {
            loop.run_once(10ms);
        } catch (const std::runtime_error& e) {
            thrown = std::strcmp(e.what(), "handler") == 0;
        }
    }
    assert_true(thrown);
    assert_int_equal(asyncdev::sync_wait(loop, value(5)), 5);
}

// A detached task without a handler that throws: std::terminate (checked
// in a child process).
static void test_co_spawn_detached_exception_terminates(void**)
{
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
        std::signal(SIGABRT, SIG_DFL);
        int fd = ::open("/dev/null", O_WRONLY);
        ::dup2(fd, 2); // the terminate message is expected
        asyncdev::Loop loop;
        asyncdev::co_spawn(loop, thrower("detached boom"));
        for (int i = 0; i < 100; ++i)
            loop.run_once(10ms);
        ::_exit(0); // not terminated: the test fails
    }
    int status = 0;
    assert_int_equal(::waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

// The Loop goes first: the spawned task, never started, is destroyed.
static void test_co_spawn_destroyed_unrun_with_loop(void**)
{
    int live = 0;
    bool ran = false;
    {
        asyncdev::Loop loop;
        auto body = [&ran](std::unique_ptr<Tracker>) -> Task<void> {
            ran = true;
            co_return;
        };
        asyncdev::co_spawn(loop, body(std::make_unique<Tracker>(&live)));
        // (Tracker is a parameter: the frame holds it until destroyed.)
        assert_int_equal(live, 1);
    }
    assert_false(ran);
    assert_int_equal(live, 0);
}

static void test_when_all_variadic_runs_concurrently(void**)
{
    asyncdev::Loop loop;
    asyncdev::Uring io(loop);
    Pair p = make_pipe(), q = make_pipe();
    bool slept = false;
    auto nap = [&]() -> Task<void> {
        co_await asyncdev::sleep_for(loop, 5ms);
        slept = true;
    };
    // Data for the second read first: both reads are pending at once.
    asyncdev::Timer w(loop, [&](std::uint64_t) {
        (void)!::write(q.b.get(), "second", 6);
        (void)!::write(p.b.get(), "first!!", 7);
    });
    w.start(10ms);
    auto [a, b, c, d] = asyncdev::sync_wait(
        loop, asyncdev::when_all(read_pipe(io, p.a.get()), read_pipe(io, q.a.get()), nap(),
                                 value(9)));
    assert_int_equal(a, 7);
    assert_int_equal(b, 6);
    (void)c; // std::monostate
    assert_true(slept);
    assert_int_equal(d, 9);
}

// Hostile: one task throws; the others still run to the end, then the
// first exception by position is rethrown.
static void test_when_all_where_one_throws(void**)
{
    asyncdev::Loop loop;
    asyncdev::Uring io(loop);
    Pair p = make_pipe();
    int live = 0;
    bool finished = false;
    auto slow = [&]() -> Task<int> {
        Tracker t(&live);
        co_await asyncdev::sleep_for(loop, 20ms);
        finished = true;
        co_return 1;
    };
    auto late_throw = [&]() -> Task<int> {
        co_await asyncdev::sleep_for(loop, 5ms);
        throw std::runtime_error("second");
        co_return 0;
    };
    std::string what;
    try {
        asyncdev::sync_wait(loop, asyncdev::when_all(slow(), late_throw(), thrower("third")));
    } catch (const std::runtime_error& e) {
        what = e.what();
    }
    assert_string_equal(what.c_str(), "second");
    assert_true(finished);
    assert_int_equal(live, 0);
}

static void test_when_all_vector(void**)
{
    asyncdev::Loop loop;
    asyncdev::Uring io(loop, 4);
    asyncdev::UniqueFd f = make_tmpfile();
    const auto data = pattern(8 * 512, 3);
    assert_int_equal(::pwrite(f.get(), data.data(), data.size(), 0), 8 * 512);
    std::vector<std::vector<std::byte>> bufs(8, std::vector<std::byte>(512));
    auto read_at = [&](std::size_t i) -> Task<ssize_t> {
        co_return co_await asyncdev::async_read(io, f.get(), bufs[i], i * 512);
    };
    std::vector<Task<ssize_t>> tasks;
    for (std::size_t i = 0; i < 8; ++i)
        tasks.push_back(read_at(i)); // 8 reads on a depth of 4: the backlog too
    const std::vector<ssize_t> res = asyncdev::sync_wait(loop, asyncdev::when_all(std::move(tasks)));
    assert_int_equal(res.size(), 8);
    for (std::size_t i = 0; i < 8; ++i) {
        assert_int_equal(res[i], 512);
        assert_memory_equal(bufs[i].data(), data.data() + i * 512, 512);
    }
    std::vector<Task<void>> none;
    asyncdev::sync_wait(loop, asyncdev::when_all(std::move(none)));
    int n = 0;
    auto inc = [&]() -> Task<void> {
        ++n;
        co_return;
    };
    std::vector<Task<void>> voids;
    voids.push_back(inc());
    voids.push_back(inc());
    asyncdev::sync_wait(loop, asyncdev::when_all(std::move(voids)));
    assert_int_equal(n, 2);
}

// Destroying a when_all mid-way destroys its tasks and abandons their reads.
static void test_destroying_when_all_abandons_children(void**)
{
    asyncdev::Loop loop;
    asyncdev::Uring io(loop);
    Pair p = make_pipe(), q = make_pipe();
    {
        auto all = asyncdev::when_all(read_pipe(io, p.a.get()), read_pipe(io, q.a.get()));
        all.start();
        loop.run_once(10ms);
        assert_int_equal(io.in_flight(), 2);
    }
    assert_int_equal(io.in_flight(), 0);
    (void)!::write(p.b.get(), "x", 1);
    loop.run_once(10ms);
    char c;
    assert_int_equal(::read(p.a.get(), &c, 1), 1); // nobody consumed it
}

int main()
{
    test::filter_from_env();
    const CMUnitTest tests[] = {
        cmocka_unit_test(test_co_await_lvalue_task),
        cmocka_unit_test(test_awaiting_twice_or_started_task_is_logic_error),
        cmocka_unit_test(test_co_spawn_detached_runs_on_loop_and_frees_itself),
        cmocka_unit_test(test_co_spawn_from_another_thread),
        cmocka_unit_test(test_co_spawn_handler_gets_value),
        cmocka_unit_test(test_co_spawn_task_that_throws_reports_to_handler),
        cmocka_unit_test(test_co_spawn_handler_exception_leaves_run_once),
        cmocka_unit_test(test_co_spawn_detached_exception_terminates),
        cmocka_unit_test(test_co_spawn_destroyed_unrun_with_loop),
        cmocka_unit_test(test_when_all_variadic_runs_concurrently),
        cmocka_unit_test(test_when_all_where_one_throws),
        cmocka_unit_test(test_when_all_vector),
        cmocka_unit_test(test_destroying_when_all_abandons_children),
    };
    return cmocka_run_group_tests_name("coro_compose", tests, nullptr, nullptr);
}
