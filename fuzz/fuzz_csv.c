/*
 * fuzz_csv.c: libFuzzer target for the delimited-number reader, the way
 * gd.data.read_csv drives it: the file is read by gd_read_file (plain or
 * through zlib) and parsed by gd_parse_delimited.
 *
 * Input: byte 0 picks the separator (byte % 4 of , TAB space ;), byte 1 the
 * dtype (% 3: float32, float64, int64), whether the first line is a header
 * ((byte / 3) % 2) and whether the file is gunzipped ((byte / 6) % 2); the rest
 * is the file.  spec/fuzz_spec.lua replays kept inputs through read_csv with
 * the same mapping.  Any status is fine; ASan/UBSan findings are the bugs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gd.h"

static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc; (void)argv;
    char dir[] = "/tmp/gdlua-fuzz-csv.XXXXXX";
    if (!mkdtemp(dir)) { perror("mkdtemp"); exit(1); }
    snprintf(path, sizeof path, "%s/in", dir);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char seps[4] = {',', '\t', ' ', ';'};
    if (size < 2) return 0;
    char sep = seps[data[0] % 4];
    int dtype = data[1] % 3, header = (data[1] / 3) % 2, gunzip = (data[1] / 6) % 2;
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data + 2, 1, size - 2, f);
    fclose(f);
    gd_buffer buf;
    if (gd_read_file(&buf, path, gunzip) != 0) return 0;
    /* the parser gets exactly the bytes read, as read_csv passes them */
    gd_tensor *t = NULL;
    if (gd_parse_delimited(&t, (const char *)buf.bytes, buf.size, sep, header, dtype) == 0) gd_tensor_release(t);
    gd_buffer_free(&buf);
    return 0;
}
