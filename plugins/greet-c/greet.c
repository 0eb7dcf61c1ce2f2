// The greet world (plugins/greet-wit) in C, with bindings from `wit-bindgen c`.
//
// Ownership follows wit-bindgen's C conventions: an export owns its arguments
// and frees them; what it returns in `ret` or `err` is freed by the generated
// post-return code; every `own` handle is dropped once it is used.

#include <stdlib.h>
#include <string.h>

#include "greet.h"

typedef berth_core_containers_own_container_t container_t;

static berth_core_containers_borrow_container_t borrow(container_t c) {
  return berth_core_containers_borrow_container(c);
}

static container_t busybox(void) {
  greet_string_t image;
  greet_string_set(&image, "busybox");
  return berth_core_containers_constructor_container(&image);
}

// Each builder below consumes the container it is given and returns the next one.

static container_t with_exec(container_t c, greet_string_t *args, size_t count) {
  greet_list_string_t list = {args, count};
  container_t next = berth_core_containers_method_container_with_exec(borrow(c), &list);
  berth_core_containers_container_drop_own(c);
  return next;
}

static container_t with_new_file(container_t c, const char *path, const char *text) {
  greet_string_t file_path;
  greet_string_set(&file_path, path);
  greet_list_u8_t contents = {(uint8_t *)text, strlen(text)};
  container_t next =
      berth_core_containers_method_container_with_new_file(borrow(c), &file_path, &contents, NULL);
  berth_core_containers_container_drop_own(c);
  return next;
}

static container_t with_exposed_port(container_t c, uint16_t port) {
  container_t next = berth_core_containers_method_container_with_exposed_port(
      borrow(c), port, BERTH_CORE_TYPES_PROTOCOL_TCP, NULL);
  berth_core_containers_container_drop_own(c);
  return next;
}

bool exports_greet_greet(greet_string_t *name, greet_string_t *ret, greet_error_t *err) {
  static const char prefix[] = "hello, ";
  size_t length = strlen(prefix) + name->len;
  uint8_t *text = malloc(length);
  memcpy(text, prefix, strlen(prefix));
  memcpy(text + strlen(prefix), name->ptr, name->len);
  greet_string_t args[2];
  greet_string_set(&args[0], "echo");
  args[1] = (greet_string_t){text, length};

  container_t c = with_exec(busybox(), args, 2);
  bool ok = berth_core_containers_method_container_stdout(borrow(c), ret, err);
  berth_core_containers_container_drop_own(c);
  free(text);
  greet_string_free(name);
  return ok;
}

greet_own_service_t exports_greet_http_service(void) {
  const char *argv[] = {"httpd", "-f", "-p", "8080", "-h", "/www"};
  greet_string_t args[6];
  for (size_t i = 0; i < 6; i++) {
    greet_string_set(&args[i], argv[i]);
  }
  container_t c = busybox();
  c = with_new_file(c, "/www/index.html", "hello from berth\n");
  c = with_exposed_port(c, 8080);
  c = with_exec(c, args, 6);
  greet_own_service_t service = berth_core_containers_method_container_as_service(borrow(c), NULL);
  berth_core_containers_container_drop_own(c);
  return service;
}
