import './base.css';
import './assistant.css';
