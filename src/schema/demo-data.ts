/** Demo catalog for `npm start` on an empty database (never in tests). Deterministic, so restarts look the same. */
import { randomBytes } from 'node:crypto';
import type { Container } from './container.js';
import { Category } from './item/item.type.js';

const NAMES: Record<Category, string[]> = {
  [Category.ELECTRONICS]: [
    'USB-C cable',
    'Wireless mouse',
    'Mechanical keyboard',
    'Laptop stand',
    'Noise-cancelling headphones',
    'Webcam 1080p',
    'Portable SSD 1 TB',
    'Smart plug',
    'Bluetooth speaker',
  ],
  [Category.BOOKS]: [
    'The Pragmatic Programmer',
    'Designing Data-Intensive Applications',
    'Refactoring',
    'Clean Architecture',
    'The Mythical Man-Month',
    'Domain-Driven Design',
    'Working Effectively with Legacy Code',
    'Release It!',
  ],
  [Category.CLOTHING]: [
    'Cotton T-shirt',
    'Hooded sweatshirt',
    'Rain jacket',
    'Wool socks',
    'Denim jeans',
    'Running shoes',
    'Baseball cap',
    'Leather belt',
  ],
  [Category.HOME]: [
    'Ceramic mug',
    'French press',
    'Desk lamp',
    'Cast-iron pan',
    'Linen tablecloth',
    'Scented candle',
    'Plant pot',
    'Wall clock',
    'Throw blanket',
  ],
};

const PREFIX: Record<Category, string> = {
  [Category.ELECTRONICS]: 'EL',
  [Category.BOOKS]: 'BK',
  [Category.CLOTHING]: 'CL',
  [Category.HOME]: 'HM',
};

export async function seedDemoData(container: Container): Promise<number> {
  if (!(await container.repos.items.isEmpty())) return 0;
  let created = 0;
  for (const category of Object.values(Category)) {
    for (const [index, name] of NAMES[category].entries()) {
      const result = await container.services.items.create({
        sku: `${PREFIX[category]}${String(1001 + index).padStart(4, '0')}`,
        name,
        description: `${name} from the demo catalog.`,
        price: Math.round((4.99 + ((index * 7 + name.length * 3) % 120)) * 100) / 100,
        category,
        tags: [category.toLowerCase(), index % 2 === 0 ? 'bestseller' : 'new'],
        stock: (index * 13) % 40,
      });
      if (result.item) created += 1;
    }
  }
  return created;
}

export interface DemoLogin {
  login: string;
  password: string;
  role: 'ADMIN' | 'USER';
}

/**
 * A demo admin and a demo user, created once on a database without them. Their passwords are random and returned
 * only on creation, so `npm start` prints them once and no well-known password ever exists.
 */
export async function seedDemoAccounts(container: Container): Promise<DemoLogin[]> {
  const accounts = [
    { username: 'demo_admin', email: 'admin@opshub.demo', fullName: 'Demo Admin', role: 'ADMIN' as const },
    { username: 'demo_user', email: 'user@opshub.demo', fullName: 'Demo User', role: 'USER' as const },
  ];
  const created: DemoLogin[] = [];
  for (const account of accounts) {
    if (await container.services.users.findByLogin(account.username)) continue;
    // Upper, lower and digit guaranteed, whatever the random part holds.
    const password = `Demo-${randomBytes(9).toString('base64url')}-7a`;
    const result = await container.services.users.create({ ...account, password }, []);
    if (result.user) created.push({ login: account.username, password, role: account.role });
  }
  return created;
}
