#ifndef OVERLAY_CMODULEMD_SHIM_H
#define OVERLAY_CMODULEMD_SHIM_H
#include <modulemd.h>

/* GObject casts and GLib accessors are macros Swift cannot import. */

/* The v2 view of a stream, or NULL for a v1 stream (the index is upgraded to v2 before anyone asks). */
static inline ModulemdModuleStreamV2 *cmodulemd_stream_v2(ModulemdModuleStream *stream) {
    return MODULEMD_IS_MODULE_STREAM_V2(stream) ? MODULEMD_MODULE_STREAM_V2(stream) : NULL;
}
/* The default stream of a module's defaults document, or NULL when it names none. */
static inline const gchar *cmodulemd_default_stream(ModulemdDefaults *defaults) {
    return MODULEMD_IS_DEFAULTS_V1(defaults) ? modulemd_defaults_v1_get_default_stream(MODULEMD_DEFAULTS_V1(defaults), NULL) : NULL;
}
static inline guint cmodulemd_ptr_array_count(GPtrArray *array) { return array ? array->len : 0; }
/* Typed elements of the arrays libmodulemd hands out (g_ptr_array_index). */
static inline ModulemdModuleStream *cmodulemd_stream_at(GPtrArray *streams, guint index) {
    return MODULEMD_MODULE_STREAM(g_ptr_array_index(streams, index));
}
static inline ModulemdDependencies *cmodulemd_dependencies_at(GPtrArray *dependencies, guint index) {
    return MODULEMD_DEPENDENCIES(g_ptr_array_index(dependencies, index));
}
/* Why the first YAML subdocument of `failures` failed, from its GError. */
static inline const gchar *cmodulemd_first_failure(GPtrArray *failures) {
    if (!failures || failures->len == 0) return "a document does not parse";
    const GError *error = modulemd_subdocument_info_get_gerror(MODULEMD_SUBDOCUMENT_INFO(g_ptr_array_index(failures, 0)));
    return error ? error->message : "a document does not parse";
}
#endif
