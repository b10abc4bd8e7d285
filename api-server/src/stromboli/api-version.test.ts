import { describe, expect, it } from 'vitest';
import { requestShapes, shapesFor } from './api-version.ts';

describe('shapesFor', () => {
  it.each([
    ['0.3', 'v0.3'],
    ['0.3.0-alpha', 'v0.3'],
    ['v0.4.2', 'v0.3'],
    ['0.5', 'v0.5'],
    ['0.5.7', 'v0.5'],
  ])('answers %s with the %s shapes', (version, shapes) => {
    expect(shapesFor(version)).toBe(shapes);
  });

  it.each([['1.0'], ['0.2'], ['0.6.0'], ['latest'], ['']])('refuses %s with a ValidationError that names what is answered', (version) => {
    expect(() => shapesFor(version)).toThrow(/unsupported Stromboli API version .*0\.3, 0\.4 and 0\.5/);
  });
});

describe('requestShapes', () => {
  it("takes the request's header over the server's setting, and the setting without a header", () => {
    expect(requestShapes({ 'x-stromboli-api-version': '0.3' }, 'v0.5')).toBe('v0.3');
    expect(requestShapes({ 'x-stromboli-api-version': '0.5.7' }, 'v0.3')).toBe('v0.5');
    expect(requestShapes({}, 'v0.3')).toBe('v0.3');
    expect(requestShapes({ 'x-stromboli-api-version': '' }, 'v0.5')).toBe('v0.5');
  });
});
