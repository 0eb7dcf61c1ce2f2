// The greet world (plugins/greet-wit) in JavaScript, built by componentize-js.
import { Container } from 'berth:core/containers@0.1.0';

// A failed exec throws (its `payload` is the berth error), which becomes the result's error.
export function greet(name) {
  return new Container('busybox').withExec(['echo', `hello, ${name}`]).stdout();
}

export function httpService() {
  return new Container('busybox')
    .withNewFile('/www/index.html', new TextEncoder().encode('hello from berth\n'), undefined)
    .withExposedPort(8080, 'tcp', undefined)
    .withExec(['httpd', '-f', '-p', '8080', '-h', '/www'])
    .asService(undefined);
}
