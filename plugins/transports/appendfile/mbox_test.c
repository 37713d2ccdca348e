#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include "appendfile.h"

static char tmpdir[256];

/* What the fake writer does: write text, then fail with fail_errno. */
struct fake {
	const char *text;
	int         fail_errno; /* 0: succeed */
};

static int
fake_write(void *arg, int fd, char *err, size_t errlen)
{
	const struct fake *f = arg;

	if (write(fd, f->text, strlen(f->text)) < 0)
		return -1;
	if (f->fail_errno == 0)
		return 0;
	snprintf(err, errlen, "fake failure");
	errno = f->fail_errno;
	return -1;
}

static void
path_in(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

static char *
slurp(const char *path)
{
	static char buf[4096];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

static struct mbox_params
params(const char *path, struct fake *f)
{
	return (struct mbox_params){
		.path = path, .mode = 0600, .mode_fail_narrower = true,
		.create_directory = true, .directory_mode = 0700,
		.check_owner = true, .create_file = AF_CREATE_ANYWHERE,
		.lock = { true, true, 0, 2, 30 * 60, 0600 },
		.write = fake_write, .arg = f,
	};
}

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/tern-mbox-test.XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
expect(int got, int want, const char *err, const char *what)
{
	if (got != want)
		fail_msg("%s: got rc %d (%s), want %d", what, got, err, want);
}

static void
test_append_and_truncate(void **state)
{
	char path[300], lock[320], err[1024];
	struct fake ok = { "From a\n\nfirst\n\n", 0 };
	struct fake bad = { "From b\n\npartial", EIO };
	struct fake full = { "From c\n\n", ENOSPC };
	struct mbox_params p;
	struct stat st;
	int e;

	(void)state;
	path_in(path, sizeof path, "sub/dir/mbox");
	p = params(path, &ok);
	expect(mbox_deliver(&p, err, sizeof err, &e), TERN_OK, err, "first");
	p.arg = &bad;
	expect(mbox_deliver(&p, err, sizeof err, &e), TERN_DEFER, err, "bad");
	if (strstr(err, path) == NULL || e != EIO)
		fail_msg("got error \"%s\" errno %d, want one naming %s, EIO",
			err, e, path);
	p.arg = &full;
	expect(mbox_deliver(&p, err, sizeof err, &e), TERN_DEFER, err, "full");
	if (strncmp(err, "mailbox is full", 15) != 0)
		fail_msg("got \"%s\", want \"mailbox is full ...\"", err);
	p.arg = &ok;
	expect(mbox_deliver(&p, err, sizeof err, &e), TERN_OK, err, "again");
	if (strcmp(slurp(path), "From a\n\nfirst\n\nFrom a\n\nfirst\n\n") != 0)
		fail_msg("got mailbox \"%s\", want two clean messages",
			slurp(path));
	if (stat(path, &st) < 0 || (st.st_mode & 07777) != 0600)
		fail_msg("got mode %o, want 600", st.st_mode & 07777);
	snprintf(lock, sizeof lock, "%s.lock", path);
	if (access(lock, F_OK) == 0)
		fail_msg("lock file %s left behind", lock);
}

static void
test_dotlock(void **state)
{
	char path[300], lock[320], err[1024];
	struct fake ok = { "x\n", 0 };
	struct mbox_params p;
	struct utimbuf old = { time(NULL) - 3600, time(NULL) - 3600 };
	int e, fd;

	(void)state;
	path_in(path, sizeof path, "locked");
	snprintf(lock, sizeof lock, "%s.lock", path);
	fd = open(lock, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	p = params(path, &ok);
	expect(mbox_deliver(&p, err, sizeof err, &e), TERN_DEFER, err,
		"fresh lock");
	if (strstr(err, "lock file") == NULL)
		fail_msg("got \"%s\", want a lock file message", err);
	assert_int_equal(utime(lock, &old), 0);
	expect(mbox_deliver(&p, err, sizeof err, &e), TERN_OK, err,
		"stale lock");
	if (access(lock, F_OK) == 0)
		fail_msg("stale lock %s not removed", lock);
}

static void
test_refusals(void **state)
{
	static const struct {
		const char *name;
		int         mode;   /* of the existing file */
		bool        link;   /* make it a symlink */
		int         want;
		const char *text;   /* in the error */
	} cases[] = {
		{ "narrow", 0400, false, TERN_DEFER, "wrong mode" },
		{ "wide", 0644, false, TERN_OK, NULL },
		{ "symlink", 0600, true, TERN_DEFER, "symbolic link" },
	};
	char path[300], target[320], err[1024];
	struct fake ok = { "x\n", 0 };
	struct mbox_params p;
	struct stat st;
	int e, fd;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		path_in(path, sizeof path, cases[i].name);
		snprintf(target, sizeof target, "%s.target", path);
		fd = open(cases[i].link ? target : path, O_CREAT | O_WRONLY,
			0600);
		assert_true(fd >= 0);
		assert_int_equal(fchmod(fd, (mode_t)cases[i].mode), 0);
		close(fd);
		if (cases[i].link)
			assert_int_equal(symlink(target, path), 0);
		p = params(path, &ok);
		err[0] = '\0';
		expect(mbox_deliver(&p, err, sizeof err, &e), cases[i].want,
			err, cases[i].name);
		if (cases[i].text && strstr(err, cases[i].text) == NULL)
			fail_msg("%s: got \"%s\", want \"%s\"", cases[i].name,
				err, cases[i].text);
		if (cases[i].want == TERN_OK &&
		    (stat(path, &st) < 0 || (st.st_mode & 07777) != 0600))
			fail_msg("%s: got mode %o, want 600", cases[i].name,
				st.st_mode & 07777);
	}
}

static void
test_create_file(void **state)
{
	char path[300], home[300], err[1024];
	struct fake ok = { "x\n", 0 };
	struct mbox_params p;
	int e;

	(void)state;
	path_in(home, sizeof home, "home");
	path_in(path, sizeof path, "elsewhere");
	p = params(path, &ok);
	p.create_file = AF_CREATE_BELOWHOME;
	p.home = home;
	expect(mbox_deliver(&p, err, sizeof err, &e), TERN_DEFER, err,
		"outside home");
	path_in(path, sizeof path, "home/mail/inbox");
	expect(mbox_deliver(&p, err, sizeof err, &e), TERN_OK, err,
		"below home");
	p.create_file = AF_CREATE_INHOME;
	path_in(path, sizeof path, "home/mail/other");
	expect(mbox_deliver(&p, err, sizeof err, &e), TERN_DEFER, err,
		"not in home");
	path_in(path, sizeof path, "home/mbox");
	expect(mbox_deliver(&p, err, sizeof err, &e), TERN_OK, err, "in home");
	p.create_file = AF_CREATE_ANYWHERE;
	p.file_must_exist = true;
	path_in(path, sizeof path, "missing");
	expect(mbox_deliver(&p, err, sizeof err, &e), TERN_DEFER, err,
		"file_must_exist");
}

static void
test_quota(void **state)
{
	char path[300], err[1024];
	struct fake ok = { "0123456789\n", 0 };
	struct mbox_params p;
	int e;

	(void)state;
	path_in(path, sizeof path, "quota");
	p = params(path, &ok);
	p.quota = (struct af_quota){ .bytes = 20, .inclusive = true,
		.msg_size = 11 };
	expect(mbox_deliver(&p, err, sizeof err, &e), TERN_OK, err, "1st");
	expect(mbox_deliver(&p, err, sizeof err, &e), TERN_DEFER, err, "2nd");
	if (strncmp(err, "mailbox is full", 15) != 0)
		fail_msg("got \"%s\", want \"mailbox is full ...\"", err);
	/* quota_is_inclusive = false: under the quota before, it may go over */
	p.quota.inclusive = false;
	expect(mbox_deliver(&p, err, sizeof err, &e), TERN_OK, err, "2nd, "
		"not inclusive");
	expect(mbox_deliver(&p, err, sizeof err, &e), TERN_DEFER, err, "3rd, "
		"over already");
}

/* The names in dir/new, joined by spaces, into buf. */
static size_t
new_names(const char *dir, char *buf, size_t len)
{
	char sub[320];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	snprintf(sub, sizeof sub, "%s/new", dir);
	buf[0] = '\0';
	d = opendir(sub);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.') {
			n++;
			strncat(buf, de->d_name, len - strlen(buf) - 2);
			strcat(buf, " ");
		}
	closedir(d);
	return n;
}

static void
test_maildir_filecount_and_tag(void **state)
{
	char dir[300], names[4096], err[1024];
	struct fake ok = { "Subject: hi\n\nx\n", 0 };
	struct maildir_params p;
	int e;

	(void)state;
	path_in(dir, sizeof dir, "Counted");
	p = (struct maildir_params){ .dir = dir, .create_directory = true,
		.directory_mode = 0700, .mode = 0600, .write = fake_write,
		.arg = &ok, .tag = ",S=16",
		.quota = { .files = 2, .inclusive = true, .msg_size = 16 } };
	expect(maildir_deliver(&p, err, sizeof err, &e), TERN_OK, err, "1st");
	expect(maildir_deliver(&p, err, sizeof err, &e), TERN_OK, err, "2nd");
	expect(maildir_deliver(&p, err, sizeof err, &e), TERN_DEFER, err,
		"3rd");
	if (strstr(err, "MTA-imposed file count quota exceeded") == NULL ||
	    e != EDQUOT)
		fail_msg("got \"%s\" (errno %d), want the file count quota",
			err, e);
	assert_int_equal(new_names(dir, names, sizeof names), 2);
	if (strstr(names, ",S=16 ") == NULL || strstr(names, ".M") == NULL)
		fail_msg("got names \"%s\", want <unique>,S=16", names);
	/* a tag that would make the name too long is dropped */
	p.quota.files = 0;
	p.tag = ",XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
		"XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
		"XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
		"XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX";
	expect(maildir_deliver(&p, err, sizeof err, &e), TERN_OK, err,
		"long tag");
	assert_int_equal(new_names(dir, names, sizeof names), 3);
	assert_null(strstr(names, ",XXX"));
}

static void
test_maildir(void **state)
{
	char dir[300], sub[320], file[1400], err[1024];
	struct fake ok = { "Subject: hi\n\nFrom here\n", 0 };
	struct fake bad = { "partial", EIO };
	struct maildir_params p;
	struct dirent *de;
	int e, count = 0;
	DIR *d;

	(void)state;
	path_in(dir, sizeof dir, "Maildir");
	p = (struct maildir_params){ .dir = dir, .create_directory = true,
		.directory_mode = 0700, .mode = 0600, .write = fake_write,
		.arg = &ok };
	expect(maildir_deliver(&p, err, sizeof err, &e), TERN_OK, err, "ok");
	p.arg = &bad;
	expect(maildir_deliver(&p, err, sizeof err, &e), TERN_DEFER, err,
		"bad");
	snprintf(sub, sizeof sub, "%s/new", dir);
	d = opendir(sub);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		count++;
		snprintf(file, sizeof file, "%s/%s", sub, de->d_name);
		if (strcmp(slurp(file), ok.text) != 0)
			fail_msg("got \"%s\", want \"%s\"", slurp(file),
				ok.text);
		if (strstr(de->d_name, ".M") == NULL)
			fail_msg("got name %s, want <sec>.M<usec>P<pid>...",
				de->d_name);
	}
	closedir(d);
	assert_int_equal(count, 1);
	snprintf(sub, sizeof sub, "%s/tmp", dir);
	d = opendir(sub);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			fail_msg("tmp file %s left behind", de->d_name);
	closedir(d);
	p.create_directory = false;
	path_in(dir, sizeof dir, "NoMaildir");
	expect(maildir_deliver(&p, err, sizeof err, &e), TERN_DEFER, err,
		"no create_directory");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_and_truncate),
		cmocka_unit_test(test_dotlock),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_create_file),
		cmocka_unit_test(test_quota),
		cmocka_unit_test(test_maildir_filecount_and_tag),
		cmocka_unit_test(test_maildir),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
