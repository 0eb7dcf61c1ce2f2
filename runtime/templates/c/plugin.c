// The {{name}} plugin: its exports are the world in wit/world.wit, with the
// bindings `berth build` writes to gen/.
//
// Ownership follows wit-bindgen's C conventions: an export owns its arguments
// and frees them; what it returns in `ret` or `err` is freed by the generated
// post-return code; every `own` handle is dropped once it is used.

#include <stdlib.h>
#include <string.h>

#include "{{snake}}.h"

typedef berth_core_containers_own_container_t container_t;

bool exports_{{snake}}_greet({{snake}}_string_t *name, {{snake}}_string_t *ret, {{snake}}_error_t *err) {
  static const char prefix[] = "hello, ";
  size_t length = strlen(prefix) + name->len;
  uint8_t *text = malloc(length);
  memcpy(text, prefix, strlen(prefix));
  memcpy(text + strlen(prefix), name->ptr, name->len);
  {{snake}}_string_t args[2];
  {{snake}}_string_set(&args[0], "echo");
  args[1] = ({{snake}}_string_t){text, length};
  {{snake}}_list_string_t list = {args, 2};

  {{snake}}_string_t image;
  {{snake}}_string_set(&image, "busybox");
  container_t busybox = berth_core_containers_constructor_container(&image);
  container_t echo = berth_core_containers_method_container_with_exec(
      berth_core_containers_borrow_container(busybox), &list);
  bool ok = berth_core_containers_method_container_stdout(
      berth_core_containers_borrow_container(echo), ret, err);
  berth_core_containers_container_drop_own(echo);
  berth_core_containers_container_drop_own(busybox);
  free(text);
  {{snake}}_string_free(name);
  return ok;
}
