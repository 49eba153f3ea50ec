// Task and awaitables: co_await on I/O of every backend, readiness and
// time; exceptions; destruction of a Task or a backend mid-operation.
#include "test_util.h"

#include <stdexcept>
#include <thread>

#include <dirent.h>
#include <sched.h>
#include <sys/syscall.h>

using namespace test;
using asyncdev::Task;

namespace {

template <asyncdev::IoBackend B>
Task<bool> round_trip(B& io, int fd)
{
    const auto out = pattern(2048, 11);
    std::vector<std::byte> in(2048);
    const ssize_t w = co_await asyncdev::async_write(io, fd, out, 512);
    const ssize_t r = co_await asyncdev::async_read(io, fd, in, 512);
    co_return w == 2048 && r == 2048 && in == out;
}

Task<int> answer() { co_return 42; }

Task<int> nested()
{
    const int a = co_await answer();
    const int b = co_await answer();
    co_return a + b;
}

Task<void> throws_after_io(asyncdev::Uring& io, int fd)
{
    std::vector<std::byte> buf(4);
    const ssize_t r = co_await asyncdev::async_read(io, fd, buf);
    throw std::runtime_error("read " + std::to_string(r));
}

Task<std::string> catches(asyncdev::Uring& io, int fd)
{
    try {
        co_await throws_after_io(io, fd);
    } catch (const std::runtime_error& e) {
        co_return e.what();
    }
    co_return "no exception";
}

// The natural way to write a one-off read: the backend is a local of the
// coroutine, so the completion that resumes it also destroys the backend.
template <asyncdev::IoBackend B>
Task<ssize_t> read_with_own_backend(asyncdev::Loop& l, int fd)
{
    B ring(l);
    std::byte b[16];
    co_return co_await asyncdev::async_read(ring, fd, b, 0);
}

template <asyncdev::IoBackend B>
void backend_destroyed_by_its_own_completion()
{
    asyncdev::Loop loop;
    Pair p = make_pipe();
    assert_int_equal(::write(p.b.get(), "hello", 5), 5);
    assert_int_equal(asyncdev::sync_wait(loop, read_with_own_backend<B>(loop, p.a.get())), 5);
}

// True once a thread of this process sits in read(fd)/pread(fd): glibc's
// AIO helper thread has started the request, which aio_cancel can then no
// longer cancel. (/proc/<tid>/syscall: "<nr> 0x<fd> ..." while blocked.)
bool some_thread_blocked_in_read(int fd)
{
    DIR* d = ::opendir("/proc/self/task");
    if (!d)
        fail_msg("opendir(/proc/self/task): %s", std::strerror(errno));
    bool found = false;
    while (dirent* e = ::readdir(d)) {
        if (e->d_name[0] == '.')
            continue;
        const std::string path = std::string("/proc/self/task/") + e->d_name + "/syscall";
        FILE* f = std::fopen(path.c_str(), "r");
        if (!f)
            continue; // the thread ended meanwhile
        long nr = -1;
        unsigned long arg0 = 0;
        if (std::fscanf(f, "%ld 0x%lx", &nr, &arg0) == 2 &&
            (nr == SYS_read || nr == SYS_pread64) && arg0 == static_cast<unsigned long>(fd))
            found = true;
        std::fclose(f);
    }
    ::closedir(d);
    return found;
}

} // namespace

static void test_round_trip_on_each_backend(void**)
{
    asyncdev::Loop loop;
    asyncdev::UniqueFd f = make_tmpfile();
    {
        asyncdev::Uring io(loop);
        assert_true(asyncdev::sync_wait(loop, round_trip(io, f.get())));
    }
    {
        asyncdev::AioContext io(loop);
        assert_true(asyncdev::sync_wait(loop, round_trip(io, f.get())));
    }
    {
        asyncdev::PosixAio io(loop);
        assert_true(asyncdev::sync_wait(loop, round_trip(io, f.get())));
    }
}

static void test_nested_tasks_return_values(void**)
{
    asyncdev::Loop loop;
    assert_int_equal(asyncdev::sync_wait(loop, nested()), 84);
}

static void test_read_resumes_when_other_thread_writes(void**)
{
    asyncdev::Loop loop;
    asyncdev::Uring io(loop);
    Pair p = make_pipe();
    pid_t resumed_on = 0;
    auto task = [&]() -> Task<ssize_t> {
        std::vector<std::byte> buf(8);
        const ssize_t r = co_await asyncdev::async_read(io, p.a.get(), buf);
        resumed_on = ::gettid();
        co_return r;
    };
    std::thread t([&] {
        std::this_thread::sleep_for(20ms);
        (void)!::write(p.b.get(), "wake", 4);
    });
    assert_int_equal(asyncdev::sync_wait(loop, task()), 4);
    t.join();
    assert_int_equal(resumed_on, loop.thread_id());
}

static void test_exception_propagates_to_awaiter(void**)
{
    asyncdev::Loop loop;
    asyncdev::Uring io(loop);
    Pair p = make_pipe();
    (void)!::write(p.b.get(), "abc", 3);
    assert_string_equal(asyncdev::sync_wait(loop, catches(io, p.a.get())).c_str(), "read 3");
    // And out of sync_wait.
    bool thrown = false;
    try {
        (void)!::write(p.b.get(), "x", 1);
        asyncdev::sync_wait(loop, throws_after_io(io, p.a.get()));
    } catch (const std::runtime_error&) {
        thrown = true;
    }
    assert_true(thrown);
}

static void test_destroying_task_abandons_pending_read(void**)
{
    asyncdev::Loop loop;
    asyncdev::Uring io(loop);
    Pair p = make_pipe();
    bool resumed = false;
    auto body = [&]() -> Task<void> {
        std::vector<std::byte> buf(8); // lives in the frame
        co_await asyncdev::async_read(io, p.a.get(), buf);
        resumed = true;
    };
    {
        Task<void> t = body();
        t.start();
        loop.run_once(10ms);
        assert_int_equal(io.in_flight(), 1);
    } // frame destroyed: the read is cancelled and reaped first
    assert_int_equal(io.in_flight(), 0);
    (void)!::write(p.b.get(), "data", 4);
    loop.run_once(20ms);
    assert_false(resumed);
    char buf[8];
    assert_int_equal(::read(p.a.get(), buf, sizeof buf), 4); // nobody consumed it
}

static void test_destroying_backend_leaves_coroutine_suspended(void**)
{
    asyncdev::Loop loop;
    Pair p = make_pipe();
    bool resumed = false;
    std::optional<asyncdev::Uring> io;
    io.emplace(loop);
    auto body = [&]() -> Task<void> {
        std::vector<std::byte> buf(8);
        co_await asyncdev::async_read(*io, p.a.get(), buf);
        resumed = true;
    };
    Task<void> t = body();
    t.start();
    loop.run_once(10ms);
    io.reset(); // cancels and reaps; the coroutine is not resumed
    loop.run_once(10ms);
    assert_false(resumed);
    assert_false(t.done());
    // Destroying the Task now must not touch the dead backend.
}

// Issue 13, defect 1: the completion resumes the coroutine, which destroys
// its backend; nothing may touch the backend after that.
static void test_uring_destroyed_by_its_own_completion(void**)
{
    backend_destroyed_by_its_own_completion<asyncdev::Uring>();
}
static void test_libaio_destroyed_by_its_own_completion(void**)
{
    backend_destroyed_by_its_own_completion<asyncdev::AioContext>();
}
static void test_posix_aio_destroyed_by_its_own_completion(void**)
{
    backend_destroyed_by_its_own_completion<asyncdev::PosixAio>();
}

// Issue 13, defect 4: glibc cannot cancel a read its helper thread has
// started on an empty pipe; destroying the Task must return anyway (the
// request finishes later into a buffer the library owns).
static void test_destroying_task_on_uncancellable_posix_aio_read_returns(void**)
{
    asyncdev::Loop loop;
    Pair p = make_pipe(); // blocking: the helper thread sleeps in read()
    asyncdev::PosixAio aio(loop);
    bool resumed = false;
    auto body = [&]() -> Task<void> {
        std::vector<std::byte> buf(8); // lives in the frame
        co_await asyncdev::async_read(aio, p.a.get(), buf);
        resumed = true;
    };
    {
        Task<void> t = body();
        t.start();
        while (!some_thread_blocked_in_read(p.a.get()))
            ::sched_yield();
    } // abandon(): must not wait for the read
    assert_false(resumed);
    assert_int_equal(aio.in_flight(), 1); // still in glibc, with the library's buffer
    assert_int_equal(::write(p.b.get(), "late", 4), 4);
    while (aio.in_flight() > 0)
        loop.run_once();
    assert_false(resumed);
}

static void test_readable_and_sleep(void**)
{
    asyncdev::Loop loop;
    Pair p = make_pipe(O_NONBLOCK | O_CLOEXEC);
    asyncdev::Timer writer(loop, [&](std::uint64_t) { (void)!::write(p.b.get(), "r", 1); });
    writer.start(15ms);
    auto body = [&]() -> Task<std::uint32_t> {
        const auto start = Clock::now();
        co_await asyncdev::sleep_for(loop, 10ms);
        if (Clock::now() - start < 10ms)
            co_return 0;
        const std::uint32_t ev = co_await asyncdev::readable(loop, p.a.get());
        co_await asyncdev::writable(loop, p.b.get());
        co_return ev;
    };
    assert_true(asyncdev::sync_wait(loop, body()) & EPOLLIN);
}

int main()
{
    test::filter_from_env();
    test::tsan_one_aio_helper_thread();
    const CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_on_each_backend),
        cmocka_unit_test(test_nested_tasks_return_values),
        cmocka_unit_test(test_read_resumes_when_other_thread_writes),
        cmocka_unit_test(test_exception_propagates_to_awaiter),
        cmocka_unit_test(test_destroying_task_abandons_pending_read),
        cmocka_unit_test(test_destroying_backend_leaves_coroutine_suspended),
        cmocka_unit_test(test_uring_destroyed_by_its_own_completion),
        cmocka_unit_test(test_libaio_destroyed_by_its_own_completion),
        cmocka_unit_test(test_posix_aio_destroyed_by_its_own_completion),
        cmocka_unit_test(test_destroying_task_on_uncancellable_posix_aio_read_returns),
        cmocka_unit_test(test_readable_and_sleep),
    };
    return cmocka_run_group_tests_name("coro", tests, nullptr, nullptr);
}
