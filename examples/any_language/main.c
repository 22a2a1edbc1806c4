/* Answer the ReLU and Linear cases of a lenet-parity export, without lenet-parity.
 *
 *   lenet-parity cases export relu dense --out DIR
 *   ./answer DIR            reads DIR/manifest.tsv and the .npy files in DIR/cases/<id>/,
 *                           writes DIR/answers/<id>/<name>.npy
 *   lenet-parity cases check DIR
 *
 * manifest.tsv has a header line, then one case per line, tab-separated:
 *   id type layer dtype dir inputs outputs beyond_lenet training kwargs
 * where inputs and outputs are comma-separated names (x,weight,bias,dy / y,dx,grad_weight,grad_bias). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "layers.h"
#include "npy.h"

enum { ID, TYPE, LAYER, DTYPE, DIR_, INPUTS, OUTPUTS, COLUMNS = 10 };

static const char *root;

static int has(const char *list, const char *name) {  /* is name one of the comma-separated list? */
    size_t len = strlen(name);
    for (const char *p = list; (p = strstr(p, name)) != NULL; p += len)
        if ((p == list || p[-1] == ',') && (p[len] == ',' || p[len] == '\0')) return 1;
    return 0;
}

static int load(char **col, const char *name, Array *a) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/%s.npy", root, col[DIR_], name);
    return npy_read(path, a);
}

static int save(char **col, const char *name, const Array *a) {
    if (!has(col[OUTPUTS], name)) return 0;  /* only what the case asks for */
    char path[4096];
    snprintf(path, sizeof path, "%s/answers/%s/%s.npy", root, col[ID], name);
    return npy_write(path, a, col[DTYPE]);
}

static int answer(char **col) {
    Array x, dy, y, dx;
    if (load(col, "x", &x) || load(col, "dy", &dy)) return -1;
    int status = 0;
    if (strcmp(col[LAYER], "ReLU") == 0) {
        relu_forward(&x, &y);
        relu_backward(&x, &dy, &dx);
        status = save(col, "y", &y) || save(col, "dx", &dx);
    } else {  /* Linear */
        Array weight, bias, gw, gb;
        int with_bias = has(col[INPUTS], "bias");
        if (load(col, "weight", &weight) || (with_bias && load(col, "bias", &bias))) return -1;
        linear_forward(&x, &weight, with_bias ? &bias : NULL, &y);
        linear_backward(&x, &weight, &dy, &dx, &gw, &gb);
        status = save(col, "y", &y) || save(col, "dx", &dx) || save(col, "grad_weight", &gw) ||
                 save(col, "grad_bias", &gb);
        array_free(&weight);
        array_free(&gw);
        array_free(&gb);
        if (with_bias) array_free(&bias);
    }
    array_free(&x); array_free(&dy); array_free(&y); array_free(&dx);
    return status;
}

static void make_dir(const char *path) {
    if (mkdir(path, 0755) != 0 && errno != EEXIST) perror(path);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR  (a folder written by lenet-parity cases export)\n", argv[0]);
        return 2;
    }
    root = argv[1];
    char path[4096], line[16384];
    snprintf(path, sizeof path, "%s/manifest.tsv", root);
    FILE *manifest = fopen(path, "r");
    if (!manifest) { perror(path); return 2; }
    snprintf(path, sizeof path, "%s/answers", root);
    make_dir(path);
    int answered = 0, skipped = 0, failed = 0;
    fgets(line, sizeof line, manifest);  /* the header */
    while (fgets(line, sizeof line, manifest)) {
        line[strcspn(line, "\n")] = '\0';
        char *col[COLUMNS] = {0};
        char *rest = line;
        for (int i = 0; i < COLUMNS && rest; i++) col[i] = strsep(&rest, "\t");
        if (!col[OUTPUTS]) continue;
        if (strcmp(col[LAYER], "ReLU") != 0 && strcmp(col[LAYER], "Linear") != 0) { skipped++; continue; }
        snprintf(path, sizeof path, "%s/answers/%s", root, col[ID]);
        make_dir(path);
        if (answer(col) == 0) answered++; else failed++;
    }
    fclose(manifest);
    printf("answered %d cases, skipped %d of other layers, %d could not be answered\n", answered, skipped, failed);
    return failed ? 1 : 0;
}
