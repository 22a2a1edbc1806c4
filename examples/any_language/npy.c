#include "npy.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Array array_new(int ndim, const long *shape) {
    Array a = {0};
    a.ndim = ndim;
    a.size = 1;
    for (int i = 0; i < ndim; i++) {
        a.shape[i] = shape[i];
        a.size *= shape[i];
    }
    a.data = calloc(a.size ? a.size : 1, sizeof(double));
    return a;
}

void array_free(Array *a) {
    free(a->data);
    a->data = NULL;
}

static int fail(const char *path, const char *why) {
    fprintf(stderr, "%s: %s\n", path, why);
    return -1;
}

int npy_read(const char *path, Array *out) {
    FILE *f = fopen(path, "rb");
    if (!f) return fail(path, "cannot open");
    unsigned char magic[8];
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, "\x93NUMPY", 6) != 0) {
        fclose(f);
        return fail(path, "not a .npy file");
    }
    uint32_t header_len = 0;
    unsigned char len_bytes[4] = {0};
    size_t len_size = magic[6] == 1 ? 2 : 4;  /* version 1: two bytes; versions 2 and 3: four */
    if (fread(len_bytes, 1, len_size, f) != len_size) { fclose(f); return fail(path, "truncated header"); }
    for (size_t i = 0; i < len_size; i++) header_len |= (uint32_t)len_bytes[i] << (8 * i);
    char *header = calloc(header_len + 1, 1);
    if (fread(header, 1, header_len, f) != header_len) { free(header); fclose(f); return fail(path, "truncated header"); }

    const char *descr = strstr(header, "'descr': '");
    const char *shape = strstr(header, "'shape': (");
    if (!descr || !shape || strstr(header, "'fortran_order': True")) {
        free(header); fclose(f);
        return fail(path, "unsupported header (need descr, shape and C order)");
    }
    descr += strlen("'descr': '");
    int item = 0;  /* 4: float32, 8: float64, -8: int64 */
    if (strncmp(descr, "<f4", 3) == 0) item = 4;
    else if (strncmp(descr, "<f8", 3) == 0) item = 8;
    else if (strncmp(descr, "<i8", 3) == 0) item = -8;
    else { free(header); fclose(f); return fail(path, "unsupported dtype (need <f4, <f8 or <i8)"); }

    long dims[NPY_MAX_DIMS] = {0};
    int ndim = 0;
    const char *p = shape + strlen("'shape': (");
    while (*p && *p != ')') {
        if (*p >= '0' && *p <= '9') {
            if (ndim == NPY_MAX_DIMS) { free(header); fclose(f); return fail(path, "too many dimensions"); }
            char *end;
            dims[ndim++] = strtol(p, &end, 10);
            p = end;
        } else {
            p++;
        }
    }
    free(header);
    *out = array_new(ndim, dims);
    size_t width = item < 0 ? (size_t)-item : (size_t)item;
    unsigned char *raw = malloc(width * (out->size ? out->size : 1));
    if (fread(raw, width, out->size, f) != (size_t)out->size) {
        free(raw); array_free(out); fclose(f);
        return fail(path, "truncated data");
    }
    for (long i = 0; i < out->size; i++) {
        if (item == 4) { float v; memcpy(&v, raw + 4 * i, 4); out->data[i] = v; }
        else if (item == 8) { double v; memcpy(&v, raw + 8 * i, 8); out->data[i] = v; }
        else { int64_t v; memcpy(&v, raw + 8 * i, 8); out->data[i] = (double)v; }
    }
    free(raw);
    fclose(f);
    return 0;
}

int npy_write(const char *path, const Array *a, const char *dtype) {
    int f32 = strcmp(dtype, "float32") == 0;
    if (!f32 && strcmp(dtype, "float64") != 0) return fail(path, "can write float32 or float64 only");
    char dict[256], shape[160] = "";
    for (int i = 0; i < a->ndim; i++) {
        char dim[24];
        snprintf(dim, sizeof dim, a->ndim == 1 ? "%ld," : (i ? ", %ld" : "%ld"), a->shape[i]);
        strcat(shape, dim);
    }
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }",
                     f32 ? "<f4" : "<f8", shape);
    int total = 10 + n + 1;                 /* magic, version, length, dict, newline */
    int pad = (64 - total % 64) % 64;       /* the data starts on a 64-byte boundary */
    uint16_t header_len = (uint16_t)(n + pad + 1);
    FILE *f = fopen(path, "wb");
    if (!f) return fail(path, "cannot write");
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    unsigned char len_bytes[2] = {header_len & 0xff, header_len >> 8};
    fwrite(len_bytes, 1, 2, f);
    fwrite(dict, 1, n, f);
    for (int i = 0; i < pad; i++) fputc(' ', f);
    fputc('\n', f);
    for (long i = 0; i < a->size; i++) {
        if (f32) { float v = (float)a->data[i]; fwrite(&v, 4, 1, f); }
        else fwrite(&a->data[i], 8, 1, f);
    }
    return fclose(f) == 0 ? 0 : fail(path, "write failed");
}
