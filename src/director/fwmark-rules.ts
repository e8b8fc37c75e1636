/**
 * Which packet marks the firewall sets, so `lvsd plan` can warn about an fwmark service
 * that no rule feeds. lvsd never writes firewall rules; it reads the nftables ruleset
 * (where iptables-nft rules live too) over netlink, read-only (nft-reader.ts), and this
 * module turns rule expressions into marks. Pure: bytes in, marks out.
 *
 * What counts as "sets mark N":
 * - nftables `meta mark set N`: an `immediate` loading N into a register, then `meta` with
 *   key mark and that register as source;
 * - iptables-nft `-j MARK --set-mark N` (and --set-xmark N/0xffffffff): a `target` expression
 *   named MARK, revision 2, whose info is struct xt_mark_tginfo2 { u32 mark, mask }.
 * A mark that comes from anywhere else (ct mark, a map lookup, a bitwise or, CONNMARK,
 * TPROXY, --or-mark) cannot be known without running packets: the scan is then "opaque" and
 * lvsd stays silent rather than warn wrongly.
 */
import { AttrCursor, u32At } from '../netlink/reader.js';
import type { MarkScan } from './fwmark-advice.js';

const NFTA_RULE_EXPRESSIONS = 4;
const NFTA_LIST_ELEM = 1;
const NFTA_EXPR_NAME = 1;
const NFTA_EXPR_DATA = 2;
const NFTA_IMMEDIATE_DREG = 1;
const NFTA_IMMEDIATE_DATA = 2;
const NFTA_DATA_VALUE = 1;
const NFTA_META_KEY = 2;
const NFTA_META_SREG = 3;
const NFT_META_MARK = 3;
const NFTA_TARGET_NAME = 1;
const NFTA_TARGET_REV = 2;
const NFTA_TARGET_INFO = 3;

/** Targets that may set the packet mark in ways lvsd cannot compute. */
const OPAQUE_TARGETS = new Set(['CONNMARK', 'TPROXY']);

export interface RuleMarks {
  marks: number[];
  opaque: boolean;
}

/** A rule's attributes by type, the first of each (a few per expression, read once per plan). */
function attributes(buf: Buffer): Map<number, Buffer> {
  const map = new Map<number, Buffer>();
  const c = new AttrCursor(buf);
  while (c.next()) if (!map.has(c.type)) map.set(c.type, c.slice());
  return map;
}

function cString(buf: Buffer | undefined): string {
  return buf ? buf.toString('ascii').replace(/\0.*$/s, '') : '';
}

/**
 * nft registers: NFT_REG_1..4 (128-bit) alias NFT_REG32_00.. (32-bit, numbered from 8), so
 * both spellings are folded onto the 32-bit numbering.
 */
function register32(reg: number): number {
  return reg >= 1 && reg <= 4 ? 8 + (reg - 1) * 4 : reg;
}

/** The marks one rule sets, from the payload of an NFT_MSG_NEWRULE (attributes after nfgenmsg). */
export function marksOfRule(ruleAttributes: Buffer): RuleMarks {
  const out: RuleMarks = { marks: [], opaque: false };
  const expressions = attributes(ruleAttributes).get(NFTA_RULE_EXPRESSIONS);
  if (!expressions) return out;
  const registers = new Map<number, number>();
  const c = new AttrCursor(expressions);
  while (c.next()) if (c.type === NFTA_LIST_ELEM) readExpression(c.slice(), registers, out);
  return out;
}

/** One expression of a rule: what it loads into registers, and whether it sets the mark. */
function readExpression(element: Buffer, registers: Map<number, number>, out: RuleMarks): void {
  const expression = attributes(element);
  const name = cString(expression.get(NFTA_EXPR_NAME));
  const data = attributes(expression.get(NFTA_EXPR_DATA) ?? Buffer.alloc(0));
  if (name === 'immediate') {
    const dreg = data.get(NFTA_IMMEDIATE_DREG);
    const value = attributes(data.get(NFTA_IMMEDIATE_DATA) ?? Buffer.alloc(0)).get(NFTA_DATA_VALUE);
    // Register numbers are big-endian; mark values are in host order.
    if (dreg && value && value.length >= 4)
      registers.set(register32(dreg.readUInt32BE(0)), u32At(value, 0));
    return;
  }
  if (name === 'meta') {
    const key = data.get(NFTA_META_KEY)?.readUInt32BE(0);
    const sreg = data.get(NFTA_META_SREG);
    if (key !== NFT_META_MARK || !sreg) return;
    const value = registers.get(register32(sreg.readUInt32BE(0)));
    if (value === undefined) out.opaque = true;
    else out.marks.push(value);
    return;
  }
  if (name === 'target') {
    const target = cString(data.get(NFTA_TARGET_NAME));
    if (OPAQUE_TARGETS.has(target)) out.opaque = true;
    if (target !== 'MARK') return;
    const revision = data.get(NFTA_TARGET_REV)?.readUInt32BE(0);
    const info = data.get(NFTA_TARGET_INFO);
    if (revision === 2 && info && info.length >= 8) {
      const mark = u32At(info, 0); // struct xt_mark_tginfo2, host order
      const mask = u32At(info, 4);
      if (mask === 0xffffffff) out.marks.push(mark);
      else out.opaque = true;
    } else {
      out.opaque = true;
    }
    return;
  }
  // Any other expression may overwrite registers: forget what they held.
  if (name !== 'cmp' && name !== 'counter' && name !== 'log' && name !== 'limit') registers.clear();
}

export function mergeRuleMarks(rules: RuleMarks[], unread: string[] = []): MarkScan {
  const marks = [...new Set(rules.flatMap((r) => r.marks))].sort((a, b) => a - b);
  return { marks, opaque: rules.some((r) => r.opaque), unread };
}
