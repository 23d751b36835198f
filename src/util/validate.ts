/**
 * Door checks in the style of sharp's lib/is.js: every public entry point validates its inputs once, and the message
 * names the parameter, the bad value and what was expected. Deep code trusts what the door checked.
 */
import { UsageError } from './errors';

export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined)
    return String(value);
  try {
    const s = JSON.stringify(value);
    return s.length > 80 ? `${s.slice(0, 77)}...` : s;
  } catch {
    return Object.prototype.toString.call(value);
  }
}

export function invalid(name: string, expected: string, received: unknown): UsageError {
  return new UsageError(`Expected ${name} to be ${expected} but received ${show(received)}`);
}

export function integerInRange(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(name, `an integer between ${min} and ${max}`, value);
  }
  return value;
}

export function numberInRange(name: string, value: unknown, min: number, max: number, exclusiveMin = false): number {
  const ok =
    typeof value === 'number' && Number.isFinite(value) && (exclusiveMin ? value > min : value >= min) && value <= max;
  if (!ok)
    throw invalid(
      name,
      `a number ${exclusiveMin ? 'greater than' : 'between'} ${min}${exclusiveMin ? ` and at most ${max}` : ` and ${max}`}`,
      value,
    );
  return value as number;
}

export function positiveNumber(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw invalid(name, 'a positive finite number', value);
  }
  return value;
}

export function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw invalid(name, `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`, value);
  }
  return value as T;
}

export function nonEmptyString(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw invalid(name, 'a non-empty string', value);
  return value;
}
