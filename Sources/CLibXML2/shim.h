#ifndef CONCERTO_CLIBXML2_SHIM_H
#define CONCERTO_CLIBXML2_SHIM_H
#include <libxml/xmlversion.h>
/* Debian builds libxml2 with ICU, whose headers clash with the ICU copy Foundation
   ships. Nothing here uses libxml2's ICU converter fields, so hide them. */
#undef LIBXML_ICU_ENABLED
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlschemas.h>

/* xmlFree is a global function pointer; Swift 6 refuses to touch mutable globals. */
static inline void concerto_xml_free(void *pointer) { xmlFree(pointer); }
#endif
