export { AssistantPanel } from './AssistantPanel';
export type { AssistantPanelProps } from './AssistantPanel';
export type { AssistantHost, DataFileChoice, KernelFrames } from './host';
