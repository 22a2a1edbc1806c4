/* A tiny reader and writer of NumPy's .npy files: little-endian float32, float64 and int64, C order.
 * The format: the magic "\x93NUMPY", a version (1, 2 or 3), the header's length, then a Python dict literal
 * such as {'descr': '<f4', 'fortran_order': False, 'shape': (2, 7), } padded with spaces, then the raw data. */
#ifndef NPY_H
#define NPY_H

#define NPY_MAX_DIMS 8

typedef struct {
    int ndim;
    long shape[NPY_MAX_DIMS];
    long size;     /* the number of elements (1 for a 0-d array) */
    double *data;  /* every element as a double, whatever the file held */
} Array;

/* 0 on success; -1 with a message on stderr. */
int npy_read(const char *path, Array *out);
/* dtype: "float32" or "float64"; 0 on success, -1 with a message on stderr. */
int npy_write(const char *path, const Array *a, const char *dtype);

Array array_new(int ndim, const long *shape);
void array_free(Array *a);

#endif
