// The {{name}} plugin: its exports are the world in wit/world.wit.
import { Container } from 'berth:core/containers@0.1.0';

// A failed exec throws (its `payload` is the berth error), which becomes the result's error.
export function greet(name) {
  return new Container('busybox').withExec(['echo', `hello, ${name}`]).stdout();
}
