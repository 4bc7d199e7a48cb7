#ifndef CONCERTO_PANGOCAIRO_SHIM_H
#define CONCERTO_PANGOCAIRO_SHIM_H
#include <pango/pangocairo.h>
#include <cairo/cairo-pdf.h>

/// PANGO_SCALE and the pixels helpers are macros Swift does not import.
static inline int concerto_pango_scale(void) { return PANGO_SCALE; }
#endif
