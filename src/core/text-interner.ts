/**
 * One copy of texts that many accounts share: the realm of every row read from the
 * database and the reason phrase of every reply ("OK") arrive as separate strings per
 * account (100 000 copies of the same realm otherwise). Bounded: once full, texts are
 * kept as given, so values that never repeat cannot grow the table.
 */
export class TextInterner {
  private readonly texts = new Map<string, string>();

  constructor(private readonly capacity: number) {}

  of(text: string): string {
    const known = this.texts.get(text);
    if (known !== undefined) return known;
    if (this.texts.size < this.capacity) this.texts.set(text, text);
    return text;
  }

  get size(): number {
    return this.texts.size;
  }
}
