/**
 * Wiring: repositories (SQL), services (rules and transactions) and the per-request DataLoader factory.
 * Created once per process; loaders are created anew for every request and every subscription event.
 */
import type { PubSub } from '@graphql-yoga/subscription';
import type { Config } from '../config.js';
import type { Database } from '../db/client.js';
import type { Topics } from '../pubsub/topics.js';
import { itemLoader } from './item/item.loaders.js';
import { ItemRepo } from './item/item.repo.js';
import { ItemService } from './item/item.service.js';

export interface ContainerDeps {
  config: Config;
  db: Database;
  pubsub: PubSub<Topics>;
}

export function createContainer({ db, pubsub }: ContainerDeps) {
  const repos = {
    items: new ItemRepo(db),
  };
  const services = {
    items: new ItemService(repos.items, pubsub),
  };
  return {
    repos,
    services,
    pubsub,
    newLoaders: () => ({
      item: itemLoader(repos.items),
    }),
  };
}

export type Container = ReturnType<typeof createContainer>;
export type Services = Container['services'];
export type Loaders = ReturnType<Container['newLoaders']>;
